import { randomUUID } from 'node:crypto';

import { connect, headers, type JetStreamClient, type NatsConnection } from 'nats';

import {
  type AnyHeraldEvent,
  assertPushType,
  eventCodec,
  natsNames,
  natsServersAndCredentials,
  nextTraceparent,
  type NatsNames,
  normalizeContextId,
  normalizeAnyPayload,
  normalizeRecipients,
  type PushPayloads,
  PushType,
  TRACEPARENT,
} from '@herald/contracts';

/** A payload as a vault API may give it: dates as Date or ISO string, GUIDs in any case. */
export type PayloadInput<T extends PushType> = {
  [K in keyof PushPayloads[T]]: PushPayloads[T][K] extends Date
    ? Date | string
    : PushPayloads[T][K] extends Date | null | undefined
      ? Date | string | null | undefined
      : PushPayloads[T][K];
} & Record<string, unknown>;

export interface PublishOptions {
  /** Identifier of the device that caused the change; its own clients ignore the notification. */
  contextId?: string | null;
  /**
   * Idempotency key. Retrying a publish with the same id within two minutes stores the event once.
   * Defaults to a new UUID, so set it to something stable (e.g. your outbox row id) when you retry.
   */
  id?: string;
  /** W3C `traceparent` of the request that caused the event, to follow it through Herald's logs. */
  traceparent?: string;
  /**
   * Explicit recipients (a Herald extension, docs/routing.md): the event goes to these users'
   * connections and devices instead of the targets of its type's rule; the payload is forwarded
   * unchanged. 1 to 10,000 user ids; not allowed for AuthRequestResponse.
   */
  recipients?: { users: string[] };
}

export interface PublishReceipt {
  id: string;
  /** Position in the EVENTS stream. */
  sequence: number;
  /** True when the broker had already stored an event with this id. */
  duplicate: boolean;
}

export interface HeraldPublisherOptions {
  /** NATS servers, e.g. `nats://127.0.0.1:4222`; ignored when `connection` is given. */
  servers?: string | string[];
  /** An existing connection to reuse; the publisher then does not close it. */
  connection?: NatsConnection;
  /** Herald's namespace (`HERALD_NAMESPACE`), default `herald`. */
  namespace?: string;
  /** How long to wait for JetStream's acknowledgement, default 10 s. */
  timeoutMs?: number;
}

/**
 * The typed client a vault API uses to publish events straight to Herald's EVENTS stream.
 * Each method validates the payload exactly as Herald's dispatcher will, publishes with
 * `Nats-Msg-Id` = the event id, and resolves only after JetStream stored the event.
 */
export class HeraldPublisher {
  private constructor(
    private readonly connection: NatsConnection,
    private readonly jetstream: JetStreamClient,
    private readonly names: NatsNames,
    private readonly ownsConnection: boolean,
  ) {}

  static async connect(options: HeraldPublisherOptions = {}): Promise<HeraldPublisher> {
    const names = natsNames(options.namespace ?? 'herald');
    const connection =
      options.connection ??
      (await connect({
        // Credentials in the URLs (nats://user:password@host) become options: nats.js ignores them there.
        ...natsServersAndCredentials(
          Array.isArray(options.servers)
            ? options.servers.join(',')
            : (options.servers ?? 'nats://127.0.0.1:4222'),
        ),
        name: 'herald-publisher',
        maxReconnectAttempts: -1,
      }));
    const jetstream = connection.jetstream({ timeout: options.timeoutMs ?? 10_000 });
    return new HeraldPublisher(connection, jetstream, names, options.connection === undefined);
  }

  /**
   * Publishes one event of any type. A type Herald knows (0-27) has its payload checked and typed;
   * any other type up to 255 is forwarded as given and routed by its `UserId`, else its
   * `OrganizationId` (docs/routing.md). Throws ValidationError (nothing published) for a bad payload.
   */
  async publish<T extends PushType>(
    type: T,
    payload: PayloadInput<T>,
    options?: PublishOptions,
  ): Promise<PublishReceipt>;
  async publish(
    type: number,
    payload: Record<string, unknown>,
    options?: PublishOptions,
  ): Promise<PublishReceipt>;
  async publish(
    type: number,
    payload: Record<string, unknown>,
    options: PublishOptions = {},
  ): Promise<PublishReceipt> {
    const pushType = assertPushType(type);
    const recipients = normalizeRecipients(options.recipients, pushType, 'options.recipients');
    // normalizeAnyPayload checked the payload against the schema of this very type.
    const event = {
      id: options.id ?? randomUUID(),
      type: pushType,
      payload: normalizeAnyPayload(pushType, payload),
      contextId: normalizeContextId(options.contextId),
      acceptedAt: new Date(),
      ...(recipients ? { recipients } : {}),
    } as AnyHeraldEvent;
    const traceHeaders = headers();
    traceHeaders.set(TRACEPARENT, nextTraceparent(options.traceparent));
    const ack = await this.jetstream.publish(
      this.names.subjects.event(event.type),
      eventCodec.encode(event),
      {
        msgID: event.id,
        headers: traceHeaders,
        expect: { streamName: this.names.streams.events },
      },
    );
    return { id: event.id, sequence: ack.seq, duplicate: ack.duplicate };
  }

  /** Closes the connection if the publisher opened it (waiting for pending publishes). */
  async close(): Promise<void> {
    if (this.ownsConnection && !this.connection.isClosed()) {
      await this.connection.drain();
    }
  }

  syncCipherUpdate(payload: PayloadInput<PushType.SyncCipherUpdate>, options?: PublishOptions) {
    return this.publish(PushType.SyncCipherUpdate, payload, options);
  }
  syncCipherCreate(payload: PayloadInput<PushType.SyncCipherCreate>, options?: PublishOptions) {
    return this.publish(PushType.SyncCipherCreate, payload, options);
  }
  syncLoginDelete(payload: PayloadInput<PushType.SyncLoginDelete>, options?: PublishOptions) {
    return this.publish(PushType.SyncLoginDelete, payload, options);
  }
  syncFolderDelete(payload: PayloadInput<PushType.SyncFolderDelete>, options?: PublishOptions) {
    return this.publish(PushType.SyncFolderDelete, payload, options);
  }
  syncCiphers(payload: PayloadInput<PushType.SyncCiphers>, options?: PublishOptions) {
    return this.publish(PushType.SyncCiphers, payload, options);
  }
  syncVault(payload: PayloadInput<PushType.SyncVault>, options?: PublishOptions) {
    return this.publish(PushType.SyncVault, payload, options);
  }
  syncOrgKeys(payload: PayloadInput<PushType.SyncOrgKeys>, options?: PublishOptions) {
    return this.publish(PushType.SyncOrgKeys, payload, options);
  }
  syncFolderCreate(payload: PayloadInput<PushType.SyncFolderCreate>, options?: PublishOptions) {
    return this.publish(PushType.SyncFolderCreate, payload, options);
  }
  syncFolderUpdate(payload: PayloadInput<PushType.SyncFolderUpdate>, options?: PublishOptions) {
    return this.publish(PushType.SyncFolderUpdate, payload, options);
  }
  syncCipherDelete(payload: PayloadInput<PushType.SyncCipherDelete>, options?: PublishOptions) {
    return this.publish(PushType.SyncCipherDelete, payload, options);
  }
  syncSettings(payload: PayloadInput<PushType.SyncSettings>, options?: PublishOptions) {
    return this.publish(PushType.SyncSettings, payload, options);
  }
  logOut(payload: PayloadInput<PushType.LogOut>, options?: PublishOptions) {
    return this.publish(PushType.LogOut, payload, options);
  }
  syncSendCreate(payload: PayloadInput<PushType.SyncSendCreate>, options?: PublishOptions) {
    return this.publish(PushType.SyncSendCreate, payload, options);
  }
  syncSendUpdate(payload: PayloadInput<PushType.SyncSendUpdate>, options?: PublishOptions) {
    return this.publish(PushType.SyncSendUpdate, payload, options);
  }
  syncSendDelete(payload: PayloadInput<PushType.SyncSendDelete>, options?: PublishOptions) {
    return this.publish(PushType.SyncSendDelete, payload, options);
  }
  authRequest(payload: PayloadInput<PushType.AuthRequest>, options?: PublishOptions) {
    return this.publish(PushType.AuthRequest, payload, options);
  }
  authRequestResponse(payload: PayloadInput<PushType.AuthRequestResponse>, options?: PublishOptions) {
    return this.publish(PushType.AuthRequestResponse, payload, options);
  }
  syncOrganizations(payload: PayloadInput<PushType.SyncOrganizations>, options?: PublishOptions) {
    return this.publish(PushType.SyncOrganizations, payload, options);
  }
  syncOrganizationStatusChanged(
    payload: PayloadInput<PushType.SyncOrganizationStatusChanged>,
    options?: PublishOptions,
  ) {
    return this.publish(PushType.SyncOrganizationStatusChanged, payload, options);
  }
  syncOrganizationCollectionSettingChanged(
    payload: PayloadInput<PushType.SyncOrganizationCollectionSettingChanged>,
    options?: PublishOptions,
  ) {
    return this.publish(PushType.SyncOrganizationCollectionSettingChanged, payload, options);
  }
  notification(payload: PayloadInput<PushType.Notification>, options?: PublishOptions) {
    return this.publish(PushType.Notification, payload, options);
  }
  notificationStatus(payload: PayloadInput<PushType.NotificationStatus>, options?: PublishOptions) {
    return this.publish(PushType.NotificationStatus, payload, options);
  }
  refreshSecurityTasks(payload: PayloadInput<PushType.RefreshSecurityTasks>, options?: PublishOptions) {
    return this.publish(PushType.RefreshSecurityTasks, payload, options);
  }
  organizationBankAccountVerified(
    payload: PayloadInput<PushType.OrganizationBankAccountVerified>,
    options?: PublishOptions,
  ) {
    return this.publish(PushType.OrganizationBankAccountVerified, payload, options);
  }
  providerBankAccountVerified(
    payload: PayloadInput<PushType.ProviderBankAccountVerified>,
    options?: PublishOptions,
  ) {
    return this.publish(PushType.ProviderBankAccountVerified, payload, options);
  }
  policyChanged(payload: PayloadInput<PushType.PolicyChanged>, options?: PublishOptions) {
    return this.publish(PushType.PolicyChanged, payload, options);
  }
  autoConfirm(payload: PayloadInput<PushType.AutoConfirm>, options?: PublishOptions) {
    return this.publish(PushType.AutoConfirm, payload, options);
  }
  premiumStatusChanged(payload: PayloadInput<PushType.PremiumStatusChanged>, options?: PublishOptions) {
    return this.publish(PushType.PremiumStatusChanged, payload, options);
  }
}
