import { randomUUID } from 'node:crypto';

import {
  Body,
  ConflictException,
  Controller,
  HttpCode,
  Inject,
  Param,
  Post,
  Put,
  UseGuards,
} from '@nestjs/common';

import { AuthenticatedUser, type UserIdentity } from '@herald/auth';
import { clientTypeOf, ClientType, isGuid, parseDeviceType } from '@herald/contracts';
import { type Database, DeviceLimitError, type RegisterDevice } from '@herald/persistence';

import { type PushConfig } from '../config/push.config';
import { type WebPushEndpointPolicy } from '../providers/webpush-endpoint';
import { PUSH_CONFIG, PUSH_DATABASE, WEB_PUSH_ENDPOINTS } from '../push.tokens';
import { RegistrationsService } from '../services/registrations.service';
import { invalid, text } from './request-validation';
import { UserTokenGuard } from './user-token.guard';

/**
 * A signed-in user registers its own device: the mobile push token, or the browser extension's
 * Web Push subscription (`/devices/identifier/{identifier}/...`, as on Bitwarden's API). These are
 * the users' own namespace, apart from every relay installation's; a user may have at most
 * `HERALD_PUSH_MAX_DEVICES_PER_USER` registrations there (`409` past it).
 */
@Controller()
@UseGuards(UserTokenGuard)
export class DevicesController {
  constructor(
    @Inject(PUSH_DATABASE) private readonly database: Database,
    @Inject(PUSH_CONFIG) private readonly config: PushConfig,
    private readonly registrations: RegistrationsService,
    @Inject(WEB_PUSH_ENDPOINTS) private readonly webPushEndpoints: WebPushEndpointPolicy,
  ) {}

  @Put(['devices/identifier/:identifier/token', 'api/devices/identifier/:identifier/token'])
  @HttpCode(200)
  async token(
    @AuthenticatedUser() identity: UserIdentity,
    @Param('identifier') identifier: string,
    @Body() body: unknown,
  ): Promise<void> {
    const user = deviceUserOf(identity);
    const pushToken = text(body, 'pushToken');
    const provider =
      user.clientType === ClientType.Mobile ? (user.deviceType === 1 ? 'apns' : 'fcm') : undefined;
    if (!provider) throw invalid('pushToken', 'only mobile devices register a push token');
    await this.registerOwn(user, identifier, { provider, pushToken });
  }

  @Post(['devices/identifier/:identifier/web-push-auth', 'api/devices/identifier/:identifier/web-push-auth'])
  @HttpCode(200)
  async webPushPost(
    @AuthenticatedUser() identity: UserIdentity,
    @Param('identifier') identifier: string,
    @Body() body: unknown,
  ): Promise<void> {
    await this.webPush(identity, identifier, body);
  }

  @Put(['devices/identifier/:identifier/web-push-auth', 'api/devices/identifier/:identifier/web-push-auth'])
  @HttpCode(200)
  async webPushPut(
    @AuthenticatedUser() identity: UserIdentity,
    @Param('identifier') identifier: string,
    @Body() body: unknown,
  ): Promise<void> {
    await this.webPush(identity, identifier, body);
  }

  private async webPush(identity: UserIdentity, identifier: string, body: unknown): Promise<void> {
    const user = deviceUserOf(identity);
    const endpoint = text(body, 'endpoint', 2048);
    const refusal = await this.webPushEndpoints.refusal(endpoint);
    if (refusal !== undefined) throw invalid('endpoint', refusal);
    const subscription = { endpoint, p256dh: text(body, 'p256dh', 200), auth: text(body, 'auth', 100) };
    await this.registerOwn(user, identifier, { provider: 'webpush', pushToken: null, webPush: subscription });
  }

  /** Registers (or refreshes) the user's device in the users' own namespace, under the per-user cap. */
  private async registerOwn(
    user: DeviceUser,
    identifier: string,
    channel: Pick<RegisterDevice, 'provider' | 'pushToken' | 'webPush'>,
  ): Promise<void> {
    const existing = await this.database.devices.findByIdentifier(null, user.userId, identifier);
    const maxDevicesPerUser = this.config.HERALD_PUSH_MAX_DEVICES_PER_USER;
    try {
      await this.registrations.register(
        {
          installationId: null,
          id: existing?.id ?? randomUUID(),
          userId: user.userId,
          identifier,
          type: user.deviceType,
          ...channel,
          organizationIds: existing?.organizationIds ?? user.organizationIds,
        },
        { maxDevicesPerUser },
      );
    } catch (error) {
      if (!(error instanceof DeviceLimitError)) throw error;
      throw new ConflictException({
        error: 'too_many_devices',
        message: `this user already has ${maxDevicesPerUser} registered devices, the most allowed`,
      });
    }
  }
}

type DeviceUser = ReturnType<typeof deviceUserOf>;

/** What registering a device needs from its user's token; `400` when the token names no device type. */
function deviceUserOf(identity: UserIdentity) {
  const deviceType = parseDeviceType(identity.devicetype);
  if (deviceType === undefined) throw invalid('devicetype', 'the token names no device type');
  return {
    userId: identity.sub.toLowerCase(),
    deviceType: deviceType as number,
    clientType: clientTypeOf(deviceType),
    organizationIds: [
      ...identity.orgowner,
      ...identity.orgadmin,
      ...identity.orguser,
      ...identity.orgcustom,
    ].filter(isGuid),
  };
}
