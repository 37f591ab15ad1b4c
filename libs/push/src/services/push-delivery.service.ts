import { Inject, Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';

import {
  ClientType,
  clientTypeOf,
  DeviceType,
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
import { PUSH_CONFIG, PUSH_DATABASE } from '../push.tokens';
import { retryDelayMs } from './backoff';
import { CircuitBreaker, Semaphore } from './circuit-breaker';
import { type ProviderName, PUSH_PROVIDERS, type PushProviders } from './push-providers';

const DEVICE_TYPES = Object.values(DeviceType).filter(
  (value): value is DeviceType => typeof value === 'number',
);

/** The DeviceTypes of one client type (the registry stores device types). */
export function deviceTypesOf(clientType: ClientType): number[] | undefined {
  return clientType === ClientType.All
    ? undefined
    : DEVICE_TYPES.filter((type) => clientTypeOf(type) === clientType);
}

/**
 * Decides every push: which devices a job reaches (stage 1) and what to do with each provider's
 * answer (stage 2): sent → done; gone → the registration is removed; rejected → dead letter;
 * transient → retried with backoff (honouring Retry-After), behind a per-provider circuit breaker
 * and concurrency limit, until the attempts run out.
 */
@Injectable()
export class PushDeliveryService {
  private readonly breakers = new Map<ProviderName, CircuitBreaker>();
  private readonly totals: Record<string, Record<string, number>> = {};
  private readonly limits = new Map<ProviderName, Semaphore>();
  private readonly sends: Counter<'provider' | 'outcome'>;
  private readonly jobs: Counter<'stage' | 'outcome'>;

  constructor(
    @Inject(PUSH_DATABASE) private readonly database: Database,
    @Inject(PUSH_QUEUE) private readonly queue: PushQueue,
    @Inject(PUSH_PROVIDERS) private readonly providers: PushProviders,
    @Inject(PUSH_CONFIG) private readonly config: PushConfig,
    @InjectLogger('PushDeliveryService') private readonly logger: Logger,
    metrics: Registry,
  ) {
    this.sends = new Counter({
      name: 'herald_push_sends_total',
      help: 'Push attempts by provider and outcome (sent, retry, gone, rejected, unconfigured, circuit-open)',
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
    return this.guarded('resolve', consumed, () => this.resolveJob(consumed));
  }

  /** Stage 2: one push to one device. */
  send(consumed: ConsumedEvent): Promise<ConsumeOutcome> {
    return this.guarded('send', consumed, () => this.sendJob(consumed));
  }

  /** Forwards one registration change to Bitwarden's relay. */
  forward(consumed: ConsumedEvent): Promise<ConsumeOutcome> {
    return this.guarded('forward', consumed, () => this.forwardJob(consumed));
  }

  /**
   * A stage that fails under its feet (the registry unreachable while PostgreSQL restarts, a
   * publish while NATS reconnects) is transient, like a provider's 5xx: retried with the same
   * backoff, so only an outage of many minutes uses up HERALD_PUSH_MAX_ATTEMPTS. Left to throw, it
   * would be retried after a flat second, and a database down for a dozen seconds would
   * dead-letter every job in flight.
   */
  private async guarded(
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
    const devices = await this.database.devices.findTargets({
      userId: job.target.kind === 'user' ? job.target.id : undefined,
      organizationId: job.target.kind === 'org' ? job.target.id : undefined,
      installationId: job.target.kind === 'installation' ? job.target.id : undefined,
      excludeIdentifier: job.excludeIdentifier,
      deviceTypes: deviceTypesOf(job.clientType),
    });
    // With the relay, mobile devices are reached through it; web push is always Herald's own.
    const local = this.providers.relay ? devices.filter((device) => device.provider === 'webpush') : devices;
    await Promise.all(
      local.map((device) =>
        this.queue.publishDeviceJob(
          {
            jobId: `${job.jobId}:${device.id}`,
            parentJobId: job.jobId,
            deviceId: device.id,
            type: job.type,
            payload: job.payload,
            contextId: job.contextId,
            acceptedAt: job.acceptedAt,
          },
          nextTraceparent(consumed.traceparent),
        ),
      ),
    );
    if (this.providers.relay) {
      const outcome = await this.attempt('relay', () =>
        this.providers.relay!.send({
          type: job.type,
          payload: job.payload,
          ...(job.target.kind === 'user' ? { userId: job.target.id } : {}),
          ...(job.target.kind === 'org' ? { organizationId: job.target.id } : {}),
          ...(job.target.kind === 'installation' ? { installationId: job.target.id } : {}),
          ...(job.excludeIdentifier ? { identifier: job.excludeIdentifier } : {}),
          ...(job.clientType !== ClientType.All ? { clientType: job.clientType } : {}),
        }),
      );
      const decided = this.decide(outcome, consumed.attempt);
      if (decided.kind !== 'ack') return this.count('resolve', decided);
    }
    this.logger.debug(
      { jobId: job.jobId, devices: local.length, relay: Boolean(this.providers.relay) },
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
    const device = await this.database.devices.findById(job.deviceId);
    if (!device || !device.provider) return this.count('send', { kind: 'ack' }); // unregistered meanwhile
    const outcome = await this.sendTo(device, job.type, job.payload, job.contextId);
    this.logger.debug(
      {
        traceId: traceIdOf(consumed.traceparent),
        jobId: job.jobId,
        deviceId: device.id,
        provider: device.provider,
        outcome: outcome.kind,
      },
      'push sent',
    );
    if (outcome.kind === 'gone') {
      await this.database.devices.clearPushRegistration(device.id);
      this.logger.info(
        { deviceId: device.id, provider: device.provider, reason: outcome.reason },
        'removed a dead push registration',
      );
    } else if (outcome.kind === 'sent' && device.failureCount > 0) {
      await this.database.devices.resetFailures(device.id);
    } else if (outcome.kind === 'retry') {
      await this.database.devices.recordFailure(device.id);
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
      if (!sender || !device.webPush) return this.unconfigured(provider);
      return this.attempt(provider, () => sender.send(device.webPush!, { type, payload, contextId }));
    }
    const sender = this.providers[provider];
    if (!sender || !device.pushToken) return this.unconfigured(provider);
    const token = device.pushToken;
    return this.attempt(provider, () => sender.send(token, { type, payload }));
  }

  /** One provider call under its circuit breaker and concurrency limit, counted by outcome. */
  private async attempt(provider: ProviderName, send: () => Promise<SendOutcome>): Promise<SendOutcome> {
    const breaker = this.breakerOf(provider);
    const blocked = breaker.blockedFor();
    if (blocked > 0) {
      this.tally(provider, 'circuit-open');
      return { kind: 'retry', reason: `${provider} is failing; circuit open`, retryAfterMs: blocked };
    }
    const outcome = await this.limitOf(provider).run(send);
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

  private breakerOf(provider: ProviderName): CircuitBreaker {
    let breaker = this.breakers.get(provider);
    if (!breaker) {
      breaker = new CircuitBreaker(5, 30_000);
      this.breakers.set(provider, breaker);
    }
    return breaker;
  }

  private limitOf(provider: ProviderName): Semaphore {
    let limit = this.limits.get(provider);
    if (!limit) {
      limit = new Semaphore(this.config.HERALD_PUSH_CONCURRENCY);
      this.limits.set(provider, limit);
    }
    return limit;
  }
}
