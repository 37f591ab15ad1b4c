import { randomUUID } from 'node:crypto';

import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Inject, type INestApplication, UseFilters } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern, Payload } from '@nestjs/microservices';

import { type DevicePushJob, devicePushJobCodec, eventCodec, PushType } from '@herald/contracts';

import { type Broker, type ConsumedEvent, type ConsumeOutcome, type ConsumerOptions } from '../ports';
import { BrokerPattern } from '../transport/broker-patterns';
import {
  BROKER_TRANSPORT,
  BrokerTransport,
  type BrokerTransportOptions,
} from '../transport/broker-transport';
import { ConsumeErrorFilter } from '../transport/consume-error.filter';
import { sampleEvent, silentLogger } from './nats.fixture';

/** One engine under the transport. */
export interface TransportUnderTest {
  /** A fresh broker: empty streams, durable consumers that never ran. */
  open(): Promise<Broker>;
  /** Polls an assertion until it holds (`eventually` of @herald/testing, passed in). */
  eventually: <T>(assertion: () => T | Promise<T>, options?: { timeoutMs?: number }) => Promise<T>;
  /** Closes every broker opened and removes what it left behind. */
  close(): Promise<void>;
}

/** The ack wait is shorter than every retry delay below, so "not handed out again" is observable. */
const FAST: ConsumerOptions = { maxDeliver: 3, ackWaitMs: 1000, batch: 16 };

type Handler = (event: ConsumedEvent) => unknown;

/** What each test's handlers do; the controller only forwards to it. */
interface Script {
  events?: Handler;
  device?: Handler;
}
const SCRIPT = Symbol('Script');

/** An ordinary consumer controller, as the services write theirs. */
@Controller()
@UseFilters(ConsumeErrorFilter)
class ScriptedConsumer {
  constructor(@Inject(SCRIPT) private readonly script: Script) {}

  @EventPattern(BrokerPattern.Events)
  events(@Payload() event: ConsumedEvent): unknown {
    return this.script.events?.(event);
  }

  @EventPattern(BrokerPattern.PushDevice)
  device(@Payload() event: ConsumedEvent): unknown {
    return this.script.device?.(event);
  }
}

class ScriptModule {}

/** A hybrid Nest application whose microservice is the broker transport over `broker`. */
export async function serveScript(
  broker: Broker,
  script: Script,
  consumers: BrokerTransportOptions['consumers'] = {
    [BrokerPattern.Events]: FAST,
    [BrokerPattern.PushDevice]: FAST,
  },
): Promise<INestApplication> {
  const app = await NestFactory.create(
    {
      module: ScriptModule,
      controllers: [ScriptedConsumer],
      providers: [
        { provide: SCRIPT, useValue: script },
        {
          provide: BROKER_TRANSPORT,
          useFactory: () =>
            new BrokerTransport({
              events: broker.eventConsumer,
              push: broker.pushConsumer,
              consumers,
              logger: silentLogger,
            }),
        },
      ],
    },
    { logger: false, abortOnError: false },
  );
  app.connectMicroservice({ strategy: app.get<BrokerTransport>(BROKER_TRANSPORT) });
  try {
    await app.init();
    await app.startAllMicroservices();
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}

interface Handled {
  id: string;
  attempt: number;
  at: number;
}

function deviceJob(): DevicePushJob {
  return {
    jobId: randomUUID(),
    parentJobId: randomUUID(),
    deviceId: randomUUID(),
    type: PushType.SyncVault,
    payload: {},
    contextId: null,
    acceptedAt: 1,
  };
}

/** A promise and the function that settles it. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * What `@EventPattern` handlers on the broker transport can count on, on every engine: a handler
 * that resolves acks, a returned retry comes back after its delay, a throw is retried with the
 * thrown message, `dead` reaches the dead-letter log with its reason, and closing finishes the
 * message in hand before it resolves.
 */
export function describeTransportContract(engine: Broker['engine'], target: TransportUnderTest): void {
  describe(`Broker transport (${engine})`, () => {
    const { eventually } = target;
    const apps: INestApplication[] = [];

    afterEach(async () => {
      await Promise.all(apps.splice(0).map((app) => app.close()));
    });

    afterAll(async () => {
      await target.close();
    });

    async function serve(broker: Broker, script: Script): Promise<INestApplication> {
      const app = await serveScript(broker, script);
      apps.push(app);
      return app;
    }

    /** Records every event handed to `decide`, with its id and attempt. */
    function recording(handled: Handled[], decide: (id: string, attempt: number) => unknown): Handler {
      return (event) => {
        const { id } = eventCodec.decode(event.data);
        handled.push({ id, attempt: event.attempt, at: Date.now() });
        return decide(id, event.attempt);
      };
    }

    it('acks a handler that resolves and brings a returned retry back after its delay', async () => {
      const broker = await target.open();
      const [acked, retried] = [sampleEvent(), sampleEvent()];
      const handled: Handled[] = [];
      await serve(broker, {
        events: recording(handled, async (id, attempt): Promise<ConsumeOutcome | void> => {
          await Promise.resolve();
          if (id === retried.id && attempt === 1) return { kind: 'retry', delayMs: 1500, reason: 'later' };
        }),
      });
      await broker.eventLog.append(acked);
      await broker.eventLog.append(retried);

      await eventually(() =>
        expect(handled.map(({ id, attempt }) => [id, attempt])).toContainEqual([retried.id, 2]),
      );
      const [first, second] = handled.filter(({ id }) => id === retried.id);
      expect(second!.at - first!.at).toBeGreaterThanOrEqual(1400);
      // The retry came back past the ack wait: an unacked event would have been handed out again by then.
      expect(handled.filter(({ id }) => id === acked.id)).toHaveLength(1);
    });

    it('retries a handler that throws after 1 s with its message, and dead-letters it on the last attempt', async () => {
      const broker = await target.open();
      const event = sampleEvent();
      const handled: Handled[] = [];
      await serve(broker, {
        events: recording(handled, () => {
          throw new Error('database unavailable');
        }),
      });
      const { sequence } = await broker.eventLog.append(event);

      const [letter] = await eventually(async () => {
        const letters = await broker.deadLetters.read('events', 0, 10);
        expect(letters).toHaveLength(1);
        return letters;
      });
      expect(letter!.reason).toBe('gave up after 3 attempts: database unavailable');
      expect(letter!.originalSequence).toBe(sequence);
      expect(handled.map(({ attempt }) => attempt)).toEqual([1, 2, 3]);
      expect(handled[1]!.at - handled[0]!.at).toBeGreaterThanOrEqual(900);
    });

    it('dead-letters with the returned reason, bytes unchanged, per source, and never hands it out again', async () => {
      const broker = await target.open();
      const [invalid, valid] = [sampleEvent(), sampleEvent()];
      const job = deviceJob();
      const handled: Handled[] = [];
      const jobs: string[] = [];
      await serve(broker, {
        events: recording(handled, (id): ConsumeOutcome | undefined =>
          id === invalid.id ? { kind: 'dead', reason: 'invalid event: no user' } : undefined,
        ),
        device: (consumed) => {
          jobs.push(devicePushJobCodec.decode(consumed.data).jobId);
          return { kind: 'dead', reason: 'token gone' };
        },
      });
      const { sequence } = await broker.eventLog.append(invalid);
      await broker.pushQueue.publishDeviceJob(job);

      const [letter] = await eventually(async () => {
        const letters = await broker.deadLetters.read('events', 0, 10);
        expect(letters).toHaveLength(1);
        return letters;
      });
      expect(letter!.reason).toBe('invalid event: no user');
      expect(letter!.originalSequence).toBe(sequence);
      expect(eventCodec.decode(letter!.data).id).toBe(invalid.id);
      const [deviceLetter] = await eventually(async () => {
        const letters = await broker.deadLetters.read('push-device', 0, 10);
        expect(letters).toHaveLength(1);
        return letters;
      });
      expect(deviceLetter!.reason).toBe('token gone');
      expect(devicePushJobCodec.decode(deviceLetter!.data).jobId).toBe(job.jobId);

      // A later event is handled; the dead one never comes back (its ack wait has long passed then).
      await broker.eventLog.append(valid);
      await eventually(() => expect(handled.map(({ id }) => id)).toContain(valid.id));
      expect(handled.filter(({ id }) => id === invalid.id)).toHaveLength(1);
      expect(jobs).toEqual([job.jobId]);
    });

    it('on close stops pulling and resolves only after the message in hand is decided', async () => {
      const broker = await target.open();
      const [inHand, later] = [sampleEvent(), sampleEvent()];
      const held = gate();
      const steps: string[] = [];
      const handled: Handled[] = [];
      const app = await serveScript(broker, {
        events: recording(handled, async () => {
          await held.opened;
          steps.push('handler finished');
        }),
      });
      await broker.eventLog.append(inHand);
      await eventually(() => expect(handled).toHaveLength(1));

      const closed = app.close().then(() => steps.push('closed'));
      // Stops pulling: an event published now is not handed to the closing transport.
      await broker.eventLog.append(later);
      // Proving that close is still pending needs a bound: the one fixed wait of this suite, ample
      // for a close that does not wait for the handler to resolve.
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 300))]);
      expect(steps).toEqual([]);
      held.open();
      await closed;
      expect(steps).toEqual(['handler finished', 'closed']);

      // The next consumer gets the later event, first asking for it again after a delay past the ack
      // wait: had the event in hand not been acked, it would have been handed out again meanwhile.
      const after: Handled[] = [];
      await serve(broker, {
        events: recording(after, (id, attempt): ConsumeOutcome | undefined =>
          id === later.id && attempt === 1 ? { kind: 'retry', delayMs: 1500, reason: 'later' } : undefined,
        ),
      });
      await eventually(() =>
        expect(after.map(({ id, attempt }) => [id, attempt])).toContainEqual([later.id, 2]),
      );
      expect(after.map(({ id }) => id)).not.toContain(inHand.id);
      expect(handled.map(({ id }) => id)).toEqual([inHand.id]);
    });
  });
}
