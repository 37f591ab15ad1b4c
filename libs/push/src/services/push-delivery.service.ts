import { Inject, Injectable, Optional } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';

import {
  ClientType,
  devicePushJobCodec,
  type PushJob,
  pushJobCodec,
  type RelayJob,
  relayJobCodec,
  nextTraceparent,
  traceIdOf,
  ValidationError,
} from '@herald/contracts';
import { type ConsumedEvent, type ConsumeOutcome, PUSH_QUEUE, type PushQueue } from '@herald/messaging';
import { type Database, type DeviceRecord } from '@herald/persistence';
import { InjectLogger, type Logger } from '@herald/platform';

import { type PushConfig } from '../config/push.config';
import { type SendOutcome } from '../providers/send-outcome';
import { endpointOrigin } from '../providers/webpush-endpoint';
import { PUSH_CLOCK, PUSH_CONFIG, PUSH_DATABASE } from '../push.tokens';
import { retryDelayMs } from './backoff';
import { BoundedRegistry } from './bounded-registry';
import { CircuitBreaker, Semaphore } from './circuit-breaker';
import { type ProviderName, PUSH_PROVIDERS, type PushProviders } from './push-providers';
import { targetQueryOf } from './push-targets';

/** A circuit breaker and a concurrency limit: one per provider, and one per Web Push origin. */
interface Gate {
  breaker: CircuitBreaker;
  limit: Semaphore;
}

const BREAKER_THRESHOLD = 5;
const BREAKER_OPEN_MS = 30_000;
/** Web Push origins remembered at most; each is a breaker and a limit, a few hundred bytes. */
const MAX_ORIGINS = 10_000;
/** An origin unused this long is forgotten (well past an open breaker's 30 s). */
const ORIGIN_IDLE_MS = 10 * 60_000;

/**
 * Decides every push: which devices a job reaches (stage 1) and what to do with each provider's
 * answer (stage 2): sent → done; gone → the registration is removed; rejected → dead letter;
 * transient → retried with backoff (honouring Retry-After), until the attempts run out. Calls go
 * through a circuit breaker and a concurrency limit: per provider for FCM, APNs and the relay, per
 * endpoint origin for Web Push, whose endpoints are the users' own: a dead or hostile one only
 * holds back the pushes to its own origin.
 */
@Injectable()
export class PushDeliveryService {
  private readonly providerGates = new Map<ProviderName, Gate>();
  private readonly originGates: BoundedRegistry<Gate>;
  private readonly totals: Record<string, Record<string, number>> = {};
  private readonly sends: Counter<'provider' | 'outcome'>;
  private readonly jobs: Counter<'stage' | 'outcome'>;

  constructor(
    @Inject(PUSH_DATABASE) private readonly database: Database,
    @Inject(PUSH_QUEUE) private readonly queue: PushQueue,
    @Inject(PUSH_PROVIDERS) private readonly providers: PushProviders,
    @Inject(PUSH_CONFIG) private readonly config: PushConfig,
    @InjectLogger('PushDeliveryService') private readonly logger: Logger,
    metrics: Registry,
    @Optional() @Inject(PUSH_CLOCK) private readonly now: () => number = Date.now,
  ) {
    // A quarter of the worker's concurrency per origin: one slow origin cannot hold every slot.
    const perOrigin = Math.max(1, Math.floor(config.HERALD_PUSH_CONCURRENCY / 4));
    this.originGates = new BoundedRegistry({
      create: () => this.newGate(perOrigin),
      busy: (gate) => gate.limit.busy,
      maxEntries: MAX_ORIGINS,
      idleMs: ORIGIN_IDLE_MS,
      now: () => this.now(),
    });
    this.sends = new Counter({
      name: 'herald_push_sends_total',
      help: 'Push attempts by provider and outcome (sent, retry, gone, rejected, unconfigured, circuit-open, busy)',
      labelNames: ['provider', 'outcome'],
      registers: [metrics],
    });
    this.jobs = new Counter({
      name: 'herald_push_jobs_total',
      help: 'Push jobs handled, by stage (resolve, send) and outcome (ack, retry, dead)',
      labelNames: ['stage', 'outcome'],
      registers: [metrics],
    });
  }

  /** Stage 1: one event for one target → one job per registered device (and the relay, if set). */
  resolve(consumed: ConsumedEvent): Promise<ConsumeOutcome> {
    return this.retryOnFailure('resolve', consumed, () => this.resolveJob(consumed));
  }

  /** Stage 2: one push to one device. */
  send(consumed: ConsumedEvent): Promise<ConsumeOutcome> {
    return this.retryOnFailure('send', consumed, () => this.sendJob(consumed));
  }

  /** Forwards one registration change to Bitwarden's relay. */
  forward(consumed: ConsumedEvent): Promise<ConsumeOutcome> {
    return this.retryOnFailure('forward', consumed, () => this.forwardJob(consumed));
  }

  /**
   * A stage that fails under its feet (the registry unreachable while PostgreSQL restarts, a
   * publish while NATS reconnects) is transient, like a provider's 5xx: retried with the same
   * backoff, so only an outage of many minutes uses up HERALD_PUSH_MAX_ATTEMPTS. Left to throw, it
   * would be retried after a flat second, and a database down for a dozen seconds would
   * dead-letter every job in flight.
   */
  private async retryOnFailure(
    stage: 'resolve' | 'send' | 'forward',
    consumed: ConsumedEvent,
    run: () => Promise<ConsumeOutcome>,
  ): Promise<ConsumeOutcome> {
    try {
      return await run();
    } catch (error) {
      return this.count(stage, {
        kind: 'retry',
        delayMs: retryDelayMs(consumed.attempt, undefined),
        reason: `${stage} failed: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  }

  private async resolveJob(consumed: ConsumedEvent): Promise<ConsumeOutcome> {
    let job: PushJob;
    try {
      job = pushJobCodec.decode(consumed.data);
    } catch (error) {
      if (error instanceof ValidationError)
        return this.count('resolve', { kind: 'dead', reason: `invalid push job: ${error.message}` });
      throw error;
    }
    // The relay API's jobs always name their installation; one queued before it did cannot be
    // told apart from the vault's, so it is not guessed at.
    if (job.jobId.startsWith('relay:') && job.relayInstallationId === undefined) {
      return this.count('resolve', { kind: 'dead', reason: 'relay push job without its installation' });
    }
    const query = targetQueryOf(job, this.config.HERALD_INSTALLATION_ID);
    const devices = query ? await this.database.devices.findTargets(query) : [];
    // With Bitwarden's relay, the users' own mobile devices are reached through it (their
    // registrations were forwarded there; no other namespace's are). Web Push is always Herald's own.
    const upstream =
      this.providers.relay && job.relayInstallationId === undefined && job.target.kind !== 'installation'
        ? this.providers.relay
        : undefined;
    const local = upstream
      ? devices.filter((device) => device.installationId !== null || device.provider === 'webpush')
      : devices;
    await Promise.all(
      local.map((device) =>
        this.queue.publishDeviceJob(
          {
            jobId: `${job.jobId}:${device.installationId ?? 'own'}:${device.id}`,
            parentJobId: job.jobId,
            deviceId: device.id,
            installationId: device.installationId,
            type: job.type,
            payload: job.payload,
            contextId: job.contextId,
            acceptedAt: job.acceptedAt,
          },
          nextTraceparent(consumed.traceparent),
        ),
      ),
    );
    if (upstream) {
      const outcome = await this.attempt('relay', () =>
        upstream.send({
          type: job.type,
          payload: job.payload,
          ...(job.target.kind === 'user' ? { userId: job.target.id } : { organizationId: job.target.id }),
          ...(job.excludeIdentifier ? { identifier: job.excludeIdentifier } : {}),
          ...(job.clientType !== ClientType.All ? { clientType: job.clientType } : {}),
        }),
      );
      const decided = this.decide(outcome, consumed.attempt);
      if (decided.kind !== 'ack') return this.count('resolve', decided);
    }
    this.logger.debug(
      {
        jobId: job.jobId,
        devices: local.length,
        relay: Boolean(upstream),
        relayInstallationId: job.relayInstallationId,
      },
      'push job resolved',
    );
    return this.count('resolve', { kind: 'ack' });
  }

  private async sendJob(consumed: ConsumedEvent): Promise<ConsumeOutcome> {
    let job;
    try {
      job = devicePushJobCodec.decode(consumed.data);
    } catch (error) {
      if (error instanceof ValidationError)
        return this.count('send', { kind: 'dead', reason: `invalid device push: ${error.message}` });
      throw error;
    }
    const device = await this.database.devices.find({
      installationId: job.installationId ?? null,
      id: job.deviceId,
    });
    if (!device || !device.provider) return this.count('send', { kind: 'ack' }); // unregistered meanwhile
    const outcome = await this.sendTo(device, job.type, job.payload, job.contextId);
    this.logger.debug(
      {
        traceId: traceIdOf(consumed.traceparent),
        jobId: job.jobId,
        deviceId: device.id,
        installationId: device.installationId,
        provider: device.provider,
        outcome: outcome.kind,
      },
      'push sent',
    );
    if (outcome.kind === 'gone') {
      await this.database.devices.clearPushRegistration(device);
      this.logger.info(
        {
          deviceId: device.id,
          installationId: device.installationId,
          provider: device.provider,
          reason: outcome.reason,
        },
        'removed a dead push registration',
      );
    } else if (outcome.kind === 'sent' && device.failureCount > 0) {
      await this.database.devices.resetFailures(device);
    } else if (outcome.kind === 'retry') {
      await this.database.devices.recordFailure(device);
    }
    return this.count('send', this.decide(outcome, consumed.attempt));
  }

  private async forwardJob(consumed: ConsumedEvent): Promise<ConsumeOutcome> {
    let job: RelayJob;
    try {
      job = relayJobCodec.decode(consumed.data);
    } catch (error) {
      if (error instanceof ValidationError)
        return this.count('forward', { kind: 'dead', reason: `invalid relay job: ${error.message}` });
      throw error;
    }
    const relay = this.providers.relay;
    if (!relay)
      return this.count('forward', { kind: 'dead', reason: 'the Bitwarden relay is not configured' });
    const outcome = await this.attempt('relay', () => {
      switch (job.op) {
        case 'register':
          return relay.register(job.registration);
        case 'delete':
          return relay.delete(job.deviceId);
        case 'add-organization':
          return relay.addOrganization(job.deviceIds, job.organizationId);
        case 'delete-organization':
          return relay.deleteOrganization(job.deviceIds, job.organizationId);
      }
    });
    return this.count('forward', this.decide(outcome, consumed.attempt));
  }

  private async sendTo(
    device: DeviceRecord,
    type: number,
    payload: Record<string, unknown>,
    contextId: string | null,
  ): Promise<SendOutcome> {
    const provider = device.provider!;
    if (provider === 'webpush') {
      const sender = this.providers.webpush;
      const subscription = device.webPush;
      if (!sender || !subscription) return this.unconfigured(provider);
      // An endpoint that is no URL is reported gone by the sender; they share one gate.
      const origin = endpointOrigin(subscription.endpoint) ?? 'invalid';
      return this.attemptAt(origin, this.originGates.get(origin), 'webpush', () =>
        sender.send(subscription, { type, payload, contextId }),
      );
    }
    const sender = this.providers[provider];
    if (!sender || !device.pushToken) return this.unconfigured(provider);
    const token = device.pushToken;
    return this.attempt(provider, () => sender.send(token, { type, payload }));
  }

  /** One provider call under the provider's circuit breaker and concurrency limit (waiting for a slot). */
  private attempt(provider: ProviderName, send: () => Promise<SendOutcome>): Promise<SendOutcome> {
    let gate = this.providerGates.get(provider);
    if (!gate) this.providerGates.set(provider, (gate = this.newGate(this.config.HERALD_PUSH_CONCURRENCY)));
    return gate.limit.run(() => this.guarded(provider, gate, provider, send));
  }

  /**
   * One Web Push call under its origin's gate. No waiting for a slot: a push to an origin that has
   * all of its own in use is retried later, so that a slow origin never holds the worker's slots
   * that pushes to other origins need.
   */
  private async attemptAt(
    origin: string,
    gate: Gate,
    provider: ProviderName,
    send: () => Promise<SendOutcome>,
  ): Promise<SendOutcome> {
    const outcome = gate.limit.tryRun(() => this.guarded(origin, gate, provider, send));
    if (outcome !== undefined) return outcome;
    this.tally(provider, 'busy');
    return { kind: 'retry', reason: `${origin} has as many pushes in flight as it may` };
  }

  /**
   * The call itself, once in a slot, unless the breaker is open (checked in the slot, so that calls
   * that waited for it see failures recorded meanwhile); counted by outcome.
   */
  private async guarded(
    name: string,
    { breaker }: Gate,
    provider: ProviderName,
    send: () => Promise<SendOutcome>,
  ): Promise<SendOutcome> {
    const blocked = breaker.blockedFor();
    if (blocked > 0) {
      this.tally(provider, 'circuit-open');
      return { kind: 'retry', reason: `${name} is failing; circuit open`, retryAfterMs: blocked };
    }
    const outcome = await send();
    if (outcome.kind === 'retry') breaker.recordFailure();
    else breaker.recordSuccess();
    this.tally(provider, outcome.kind);
    return outcome;
  }

  private decide(outcome: SendOutcome, attempt: number): ConsumeOutcome {
    switch (outcome.kind) {
      case 'sent':
      case 'gone':
        return { kind: 'ack' };
      case 'rejected':
        return { kind: 'dead', reason: outcome.reason };
      case 'retry':
        return {
          kind: 'retry',
          delayMs: retryDelayMs(attempt, outcome.retryAfterMs),
          reason: outcome.reason,
        };
    }
  }

  private unconfigured(provider: ProviderName): SendOutcome {
    this.tally(provider, 'unconfigured');
    return { kind: 'rejected', reason: `provider ${provider} is not configured` };
  }

  /** Push outcomes since start, by provider (what the push worker's heartbeat carries). */
  get outcomes(): Record<string, Record<string, number>> {
    return structuredClone(this.totals);
  }

  private tally(provider: ProviderName, outcome: string): void {
    this.sends.inc({ provider, outcome });
    const byOutcome = (this.totals[provider] ??= {});
    byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
  }

  private count(stage: 'resolve' | 'send' | 'forward', outcome: ConsumeOutcome): ConsumeOutcome {
    this.jobs.inc({ stage, outcome: outcome.kind });
    return outcome;
  }

  private newGate(concurrency: number): Gate {
    return {
      breaker: new CircuitBreaker(BREAKER_THRESHOLD, BREAKER_OPEN_MS, () => this.now()),
      limit: new Semaphore(concurrency),
    };
  }
}
