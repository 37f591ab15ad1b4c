import { type FactoryProvider } from '@nestjs/common';

import { JwtStrategy } from '@herald/auth';
import { type Database, openDatabase } from '@herald/persistence';

import { type PushConfig } from './config/push.config';
import { ApnsSender } from './providers/apns.sender';
import { FcmSender } from './providers/fcm.sender';
import { RelayClient } from './providers/relay.client';
import { WebPushEndpointPolicy } from './providers/webpush-endpoint';
import { WebPushSender } from './providers/webpush.sender';
import { PUSH_DATABASE, USER_JWT_STRATEGY, WEB_PUSH_ENDPOINTS } from './push.tokens';
import { PUSH_PROVIDERS, type PushProviders } from './services/push-providers';

/** Every provider whose settings are present; a half-configured one was refused by the config check. */
export async function pushProvidersOf(
  config: PushConfig,
  endpoints = new WebPushEndpointPolicy(config.HERALD_WEBPUSH_ALLOWED_HOSTS),
): Promise<PushProviders> {
  const providers: PushProviders = {};
  if (config.HERALD_FCM_SERVICE_ACCOUNT) {
    providers.fcm = await FcmSender.create({
      serviceAccount: config.HERALD_FCM_SERVICE_ACCOUNT,
      apiUrl: config.HERALD_FCM_API_URL,
      tokenUrl: config.HERALD_FCM_TOKEN_URL,
    });
  }
  if (
    config.HERALD_APNS_KEY &&
    config.HERALD_APNS_KEY_ID &&
    config.HERALD_APNS_TEAM_ID &&
    config.HERALD_APNS_TOPIC
  ) {
    providers.apns = await ApnsSender.create({
      key: config.HERALD_APNS_KEY,
      keyId: config.HERALD_APNS_KEY_ID,
      teamId: config.HERALD_APNS_TEAM_ID,
      topic: config.HERALD_APNS_TOPIC,
      host: config.HERALD_APNS_HOST,
    });
  }
  if (config.HERALD_VAPID_PUBLIC_KEY && config.HERALD_VAPID_PRIVATE_KEY && config.HERALD_VAPID_SUBJECT) {
    providers.webpush = new WebPushSender({
      vapidPublicKey: config.HERALD_VAPID_PUBLIC_KEY,
      vapidPrivateKey: config.HERALD_VAPID_PRIVATE_KEY,
      subject: config.HERALD_VAPID_SUBJECT,
      endpoints,
    });
  }
  if (
    config.HERALD_PUSH_RELAY_URI &&
    config.HERALD_PUSH_INSTALLATION_ID &&
    config.HERALD_PUSH_INSTALLATION_KEY
  ) {
    providers.relay = new RelayClient({
      relayUri: config.HERALD_PUSH_RELAY_URI,
      identityUri: config.HERALD_PUSH_IDENTITY_URI,
      installationId: config.HERALD_PUSH_INSTALLATION_ID,
      installationKey: config.HERALD_PUSH_INSTALLATION_KEY,
    });
  }
  return providers;
}

/** The strategy for users' own tokens, or null when no token source is configured. */
export async function userJwtStrategyOf(config: PushConfig): Promise<JwtStrategy | null> {
  const hasTokenSource = Boolean(
    config.HERALD_JWT_PUBLIC_KEY || config.HERALD_JWT_JWKS_URL || config.HERALD_JWT_AUTHORITY,
  );
  return hasTokenSource
    ? JwtStrategy.create({
        publicKey: config.HERALD_JWT_PUBLIC_KEY,
        jwksUrl: config.HERALD_JWT_JWKS_URL,
        authority: config.HERALD_JWT_AUTHORITY,
        issuer: config.HERALD_JWT_ISSUER,
      })
    : null;
}

/**
 * What the push worker builds at start, each by an async factory: the database (TypeORM, with its
 * migrations run), the Web Push endpoint policy, the push senders and the user token strategy.
 */
export function pushFactories(config: PushConfig): FactoryProvider[] {
  return [
    {
      provide: PUSH_DATABASE,
      useFactory: (): Promise<Database> =>
        openDatabase({ url: config.HERALD_DATABASE_URL, dataDir: config.HERALD_DATA_DIR }),
    },
    {
      provide: WEB_PUSH_ENDPOINTS,
      useFactory: () => new WebPushEndpointPolicy(config.HERALD_WEBPUSH_ALLOWED_HOSTS),
    },
    {
      provide: PUSH_PROVIDERS,
      useFactory: (endpoints: WebPushEndpointPolicy) => pushProvidersOf(config, endpoints),
      inject: [WEB_PUSH_ENDPOINTS],
    },
    { provide: USER_JWT_STRATEGY, useFactory: () => userJwtStrategyOf(config) },
  ];
}
