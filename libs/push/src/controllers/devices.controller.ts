import { randomUUID } from 'node:crypto';

import { Body, Controller, HttpCode, Inject, Param, Post, Put, UseGuards } from '@nestjs/common';

import { AuthenticatedUser, type UserIdentity } from '@herald/auth';
import { clientTypeOf, ClientType, isGuid, parseDeviceType } from '@herald/contracts';
import { type Database } from '@herald/persistence';

import { type WebPushEndpointPolicy } from '../providers/webpush-endpoint';
import { PUSH_DATABASE, WEB_PUSH_ENDPOINTS } from '../push.tokens';
import { RegistrationsService } from '../services/registrations.service';
import { invalid, text } from './request-validation';
import { UserTokenGuard } from './user-token.guard';

/**
 * A signed-in user registers its own device: the mobile push token, or the browser extension's
 * Web Push subscription (`/devices/identifier/{identifier}/...`, as on Bitwarden's API).
 */
@Controller()
@UseGuards(UserTokenGuard)
export class DevicesController {
  constructor(
    @Inject(PUSH_DATABASE) private readonly database: Database,
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
    const existing = await this.database.devices.findByIdentifier(user.userId, identifier);
    await this.registrations.register({
      id: existing?.id ?? randomUUID(),
      userId: user.userId,
      identifier,
      type: user.deviceType,
      provider,
      pushToken,
      organizationIds: existing?.organizationIds ?? user.organizationIds,
      installationId: existing?.installationId ?? null,
    });
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
    const existing = await this.database.devices.findByIdentifier(user.userId, identifier);
    await this.database.devices.register({
      id: existing?.id ?? randomUUID(),
      userId: user.userId,
      identifier,
      type: user.deviceType,
      provider: 'webpush',
      pushToken: null,
      webPush: subscription,
      organizationIds: existing?.organizationIds ?? user.organizationIds,
      installationId: existing?.installationId ?? null,
    });
  }
}

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
