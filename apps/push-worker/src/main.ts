import 'reflect-metadata';

import { TokenVerifier } from '@herald/auth';
import { BROKER_TRANSPORT, connectWithStreams } from '@herald/messaging';
import { openDatabase } from '@herald/persistence';
import { bootService, createLogger, loadConfig, runMain } from '@herald/platform';
import {
  ApnsSender,
  FcmSender,
  type PushConfig,
  pushConfigSchema,
  PushModule,
  type PushProviders,
  RelayClient,
  WebPushSender,
} from '@herald/push';

const bootLogger = createLogger('push-worker', 'info');

/** Every provider whose settings are present; a half-configured one was refused by the config check. */
async function providersOf(config: PushConfig): Promise<PushProviders> {
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

runMain(bootLogger, async () => {
  const config = loadConfig(pushConfigSchema);
  const logger = createLogger('push-worker', config.HERALD_LOG_LEVEL);
  const hasTokenSource = Boolean(
    config.HERALD_JWT_PUBLIC_KEY || config.HERALD_JWT_JWKS_URL || config.HERALD_JWT_AUTHORITY,
  );
  const verifier = hasTokenSource
    ? await TokenVerifier.create({
        publicKey: config.HERALD_JWT_PUBLIC_KEY,
        jwksUrl: config.HERALD_JWT_JWKS_URL,
        authority: config.HERALD_JWT_AUTHORITY,
        issuer: config.HERALD_JWT_ISSUER,
      })
    : null;
  const providers = await providersOf(config);
  const database = await openDatabase({ url: config.HERALD_DATABASE_URL, dataDir: config.HERALD_DATA_DIR });
  logger.info(
    { database: database.kind, providers: Object.keys(providers), userRegistrations: Boolean(verifier) },
    'push worker configured',
  );
  const nats = await connectWithStreams(
    {
      servers: config.HERALD_NATS_URL,
      namespace: config.HERALD_NAMESPACE,
      name: `herald-push-worker-${process.pid}`,
      logger,
    },
    { eventsMaxAgeMs: config.HERALD_EVENTS_MAX_AGE, replayWindowMs: config.HERALD_REPLAY_WINDOW },
  );
  await bootService({
    module: PushModule.forRoot({ config, logger, nats, database, providers, verifier }),
    host: config.HERALD_HOST,
    port: config.HERALD_PUSH_PORT,
    logger,
    transport: BROKER_TRANSPORT,
  });
});
