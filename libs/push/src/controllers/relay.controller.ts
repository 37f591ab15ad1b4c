import { randomUUID } from 'node:crypto';

import { Body, Controller, ForbiddenException, HttpCode, Inject, Post, Put, UseGuards } from '@nestjs/common';

import {
  ClientType,
  DeviceType,
  isPlainObject,
  isPushType,
  MAX_PUSH_TYPE,
  normalizeAnyPayload,
  type PushJob,
  ValidationError,
} from '@herald/contracts';
import { AuthenticatedUser } from '@herald/auth';
import { PUSH_QUEUE, type PushQueue } from '@herald/messaging';
import { type PushProvider } from '@herald/persistence';
import { InjectLogger, type Logger } from '@herald/platform';

import { RegistrationsService } from '../services/registrations.service';
import {
  deviceIdList,
  field,
  guid,
  guidList,
  integer,
  invalid,
  optionalGuid,
  text,
} from './request-validation';
import { RelayTokenGuard } from './relay-token.guard';
import { type RelayCaller } from './relay.strategy';

/** Mobile DeviceTypes and the provider that reaches them. */
function providerOf(type: number): PushProvider | undefined {
  if (type === (DeviceType.Android as number) || type === (DeviceType.AndroidAmazon as number)) return 'fcm';
  if (type === (DeviceType.iOS as number)) return 'apns';
  return undefined;
}

/**
 * The Bitwarden push relay API (PROTOCOL.md §7), so that a self-hosted Bitwarden or Vaultwarden can
 * use Herald as its relay: registrations land in the device registry, sends become push jobs.
 * Every route works in the caller's namespace only: the ids in a body are the installation's own
 * (as Bitwarden's relay prefixes them with the installation id), so no installation can see,
 * change or push to another's registrations, nor to the users' own.
 */
@Controller('push')
@UseGuards(RelayTokenGuard)
export class RelayController {
  constructor(
    private readonly registrations: RegistrationsService,
    @Inject(PUSH_QUEUE) private readonly queue: PushQueue,
    @InjectLogger('RelayController') private readonly logger: Logger,
  ) {}

  @Post('register')
  @HttpCode(200)
  async register(@AuthenticatedUser() caller: RelayCaller, @Body() body: unknown): Promise<void> {
    const type = integer(body, 'type', 0, 26);
    const provider = providerOf(type);
    if (!provider)
      throw invalid('type', 'only Android, iOS and AndroidAmazon devices register for mobile push');
    const installationId = this.ownInstallation(caller, optionalGuid(body, 'installationId'));
    await this.registrations.register({
      installationId,
      id: guid(body, 'deviceId'),
      userId: guid(body, 'userId'),
      identifier: text(body, 'identifier', 256),
      type,
      provider,
      pushToken: text(body, 'pushToken'),
      organizationIds: guidList(body, 'organizationIds'),
    });
  }

  @Post('delete')
  @HttpCode(200)
  async delete(@AuthenticatedUser() caller: RelayCaller, @Body() body: unknown): Promise<void> {
    await this.registrations.remove({ installationId: caller.installationId, id: guid(body, 'id') });
  }

  @Put('add-organization')
  @HttpCode(200)
  async addOrganization(@AuthenticatedUser() caller: RelayCaller, @Body() body: unknown): Promise<void> {
    await this.registrations.changeOrganization(
      caller.installationId,
      'add-organization',
      deviceIdList(body),
      guid(body, 'organizationId'),
    );
  }

  @Put('delete-organization')
  @HttpCode(200)
  async deleteOrganization(@AuthenticatedUser() caller: RelayCaller, @Body() body: unknown): Promise<void> {
    await this.registrations.changeOrganization(
      caller.installationId,
      'delete-organization',
      deviceIdList(body),
      guid(body, 'organizationId'),
    );
  }

  @Post('send')
  @HttpCode(200)
  async send(@AuthenticatedUser() caller: RelayCaller, @Body() body: unknown): Promise<void> {
    const type = field(body, 'type');
    // Any type 0-255: a type Herald does not know is pushed with its payload as given.
    if (!isPushType(type)) throw invalid('type', `expected a PushType from 0 to ${MAX_PUSH_TYPE}`);
    const rawPayload = field(body, 'payload');
    const payloadObject: unknown = typeof rawPayload === 'string' ? parseJson(rawPayload) : rawPayload;
    if (!isPlainObject(payloadObject)) throw invalid('payload', 'expected an object (or its JSON text)');
    let payload: Record<string, unknown>;
    try {
      payload = normalizeAnyPayload(type, payloadObject);
    } catch (error) {
      if (error instanceof ValidationError) throw invalid(error.path, error.problem);
      throw error;
    }
    const userId = optionalGuid(body, 'userId');
    const organizationId = optionalGuid(body, 'organizationId');
    const installationId = optionalGuid(body, 'installationId');
    if (installationId) this.ownInstallation(caller, installationId);
    const target = userId
      ? { kind: 'user' as const, id: userId }
      : organizationId
        ? { kind: 'org' as const, id: organizationId }
        : installationId
          ? { kind: 'installation' as const, id: installationId }
          : undefined;
    if (!target) throw invalid('userId', 'one of userId, organizationId or installationId is required');
    const clientType = field(body, 'clientType');
    if (
      clientType !== undefined &&
      clientType !== null &&
      !(typeof clientType === 'number' && clientType >= 0 && clientType <= 5)
    ) {
      throw invalid('clientType', 'expected a ClientType from 0 to 5');
    }
    const identifier = field(body, 'identifier');
    const job: PushJob = {
      jobId: `relay:${randomUUID()}`,
      eventId: `relay:${randomUUID()}`,
      type,
      payload,
      contextId: typeof identifier === 'string' ? identifier : null,
      target,
      excludeIdentifier: typeof identifier === 'string' && identifier.length > 0 ? identifier : null,
      clientType: (clientType as ClientType | null | undefined) ?? ClientType.All,
      acceptedAt: Date.now(),
      // The caller's namespace: its user and organization ids are its own.
      relayInstallationId: caller.installationId,
    };
    await this.queue.publishJob(job);
    this.logger.debug(
      { jobId: job.jobId, type, target: target.kind, installationId: caller.installationId },
      'relay send queued',
    );
  }

  /** An installation may only act on itself (Bitwarden's relay refuses other installation ids). */
  private ownInstallation(caller: RelayCaller, installationId: string | undefined): string {
    if (installationId !== undefined && installationId !== caller.installationId) {
      throw new ForbiddenException({
        error: 'forbidden',
        message: 'installationId must be the caller’s own',
        field: 'installationId',
      });
    }
    return caller.installationId;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
