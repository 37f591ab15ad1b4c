import { randomUUID } from 'node:crypto';

import {
  Body,
  Controller,
  ForbiddenException,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Put,
  Req,
  UnauthorizedException,
} from '@nestjs/common';
import { type Request } from 'express';

import { assertHubPolicy, AuthError, extractAccessToken, type TokenVerifier } from '@herald/auth';
import { clientTypeOf, ClientType, isGuid, parseDeviceType } from '@herald/contracts';
import { type Database } from '@herald/persistence';

import { PUSH_DATABASE, USER_TOKEN_VERIFIER } from '../push.tokens';
import { RegistrationsService } from '../services/registrations.service';
import { invalid, text } from './request-validation';

/**
 * A signed-in user registers its own device: the mobile push token, or the browser extension's
 * Web Push subscription (`/devices/identifier/{identifier}/...`, as on Bitwarden's API).
 */
@Controller()
export class DevicesController {
  constructor(
    @Inject(PUSH_DATABASE) private readonly database: Database,
    @Inject(USER_TOKEN_VERIFIER) private readonly verifier: TokenVerifier | null,
    private readonly registrations: RegistrationsService,
  ) {}

  @Put(['devices/identifier/:identifier/token', 'api/devices/identifier/:identifier/token'])
  @HttpCode(200)
  async token(
    @Req() request: Request,
    @Param('identifier') identifier: string,
    @Body() body: unknown,
  ): Promise<void> {
    const user = await this.authenticate(request);
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
    @Req() request: Request,
    @Param('identifier') identifier: string,
    @Body() body: unknown,
  ): Promise<void> {
    await this.webPush(request, identifier, body);
  }

  @Put(['devices/identifier/:identifier/web-push-auth', 'api/devices/identifier/:identifier/web-push-auth'])
  @HttpCode(200)
  async webPushPut(
    @Req() request: Request,
    @Param('identifier') identifier: string,
    @Body() body: unknown,
  ): Promise<void> {
    await this.webPush(request, identifier, body);
  }

  private async webPush(request: Request, identifier: string, body: unknown): Promise<void> {
    const user = await this.authenticate(request);
    const endpoint = text(body, 'endpoint', 2048);
    if (!isPushServiceUrl(endpoint)) throw invalid('endpoint', 'expected an https URL');
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

  private async authenticate(request: Request) {
    if (!this.verifier)
      throw new NotFoundException({ error: 'not_found', message: 'no token source is configured' });
    const token = extractAccessToken(request.headers, request.originalUrl);
    if (!token)
      throw new UnauthorizedException({ error: 'unauthorized', message: 'a bearer token is required' });
    try {
      const claims = await this.verifier.verify(token);
      assertHubPolicy(claims);
      if (!isGuid(claims.sub)) throw new AuthError('missing-claim');
      const deviceType = parseDeviceType(claims.devicetype);
      if (deviceType === undefined) throw invalid('devicetype', 'the token names no device type');
      return {
        userId: claims.sub.toLowerCase(),
        deviceType: deviceType as number,
        clientType: clientTypeOf(deviceType),
        organizationIds: [
          ...claims.orgowner,
          ...claims.orgadmin,
          ...claims.orguser,
          ...claims.orgcustom,
        ].filter(isGuid),
      };
    } catch (error) {
      if (error instanceof AuthError) {
        const body = { error: error.reason, message: error.message };
        throw error.status === 403 ? new ForbiddenException(body) : new UnauthorizedException(body);
      }
      throw error;
    }
  }
}

/**
 * Push services are reached over https; plain http only on loopback (local test services). Any
 * other endpoint would let a client point Herald's requests at an internal address.
 */
function isPushServiceUrl(value: string): boolean {
  try {
    const url = new URL(value);
    if (url.protocol === 'https:') return true;
    return url.protocol === 'http:' && /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(url.hostname);
  } catch {
    return false;
  }
}
