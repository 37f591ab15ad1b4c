import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import {
  deleteNamespace,
  eventually,
  HubClient,
  ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
} from '@herald/testing';

interface Info {
  generatedAt: string;
  gateways: { id: string; connections: { hub: number; 'anonymous-hub': number }; users: number }[];
  totals: { gateways: number; connections: number; users: number };
}

/**
 * What an operator sees: the heartbeat service's cluster view of three gateways (and a gateway
 * that stops beating leaving it within 15 s), every documented metric name on every service, and
 * one notification followed through the logs by its W3C trace id.
 */
describe('observability', () => {
  const namespace = testNamespace('obs');
  const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace };
  let issuer: TestIssuer;
  let gateways: ServiceProcess[];
  let dispatcher: ServiceProcess;
  let pushWorker: ServiceProcess;
  let heartbeat: ServiceProcess;
  const clients: HubClient[] = [];
  const dataDir = `/tmp/herald-obs-${randomUUID()}`;

  const info = async () => (await (await fetch(`${heartbeat.url}/info`)).json()) as Info;

  beforeAll(async () => {
    issuer = await TestIssuer.create();
    const gatewayEnv = { ...env, HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem };
    [dispatcher, pushWorker, heartbeat, ...gateways] = await Promise.all([
      ServiceProcess.start('dispatcher', env),
      ServiceProcess.start('push-worker', { ...env, HERALD_DATA_DIR: dataDir }),
      ServiceProcess.start('heartbeat', env),
      ServiceProcess.start('gateway', { ...gatewayEnv, HERALD_GATEWAY_ID: `${namespace}-g1` }),
      ServiceProcess.start('gateway', { ...gatewayEnv, HERALD_GATEWAY_ID: `${namespace}-g2` }),
      ServiceProcess.start('gateway', { ...gatewayEnv, HERALD_GATEWAY_ID: `${namespace}-g3` }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop()));
    await Promise.all([dispatcher, pushWorker, heartbeat, ...gateways].map((service) => service?.stop()));
    await deleteNamespace(namespace);
  });

  it('shows every gateway and the cluster totals, and forgets a gateway within 15 s of its last beat', async () => {
    const [g1, g2, g3] = gateways as [ServiceProcess, ServiceProcess, ServiceProcess];
    const sharedUser = randomUUID();
    for (const [gateway, userId] of [
      [g1, sharedUser],
      [g1, randomUUID()],
      [g2, sharedUser],
      [g3, randomUUID()],
    ] as const) {
      clients.push(
        await HubClient.connect(`${gateway.url}/notifications/hub`, {
          token: await issuer.userToken(userId),
        }),
      );
    }
    clients.push(await HubClient.connect(`${g2.url}/notifications/anonymous-hub?Token=${randomUUID()}`));
    const seen = await eventually(
      async () => {
        const current = await info();
        expect(current.totals).toMatchObject({ gateways: 3, connections: 5, users: 4 });
        return current;
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    process.stdout.write(`\n[info of a three-gateway run] ${JSON.stringify(seen, null, 2)}\n`);
    expect(seen.gateways.map((gateway) => [gateway.id, gateway.connections, gateway.users])).toEqual([
      [`${namespace}-g1`, { hub: 2, 'anonymous-hub': 0 }, 2],
      [`${namespace}-g2`, { hub: 1, 'anonymous-hub': 1 }, 1],
      [`${namespace}-g3`, { hub: 1, 'anonymous-hub': 0 }, 1],
    ]);
    const metrics = await (await fetch(`${heartbeat.url}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(
        `^herald_cluster_connections\\{gateway="${namespace}-g2",hub="anonymous-hub"[^}]*\\} 1$`,
        'm',
      ),
    );
    expect(metrics).toMatch(/^herald_cluster_gateways\{[^}]*\} 3$/m);

    // A gateway that dies without a word is gone from /info within 15 s of its last beat.
    await g3.stop('SIGKILL');
    const killedAt = Date.now();
    const gone = await eventually(
      async () => {
        const answer = await info();
        expect(answer.totals.gateways).toBe(2);
        return answer;
      },
      { timeoutMs: 25_000, intervalMs: 250 },
    );
    // Measured at the answer's own clock, so a slow poll on a busy machine does not count.
    const seconds = (Date.parse(gone.generatedAt) - killedAt) / 1000;
    process.stdout.write(`\n[heartbeat expiry] a killed gateway left /info after ${seconds.toFixed(1)} s\n`);
    // Its last beat was at most at the kill and its entry expires 15 s after it; NATS removes aged
    // messages on a timer of its own that a loaded machine runs late, so allow one beat interval
    // (5 s) on top. Still far below what an entry that never expires would take.
    expect(seconds).toBeLessThanOrEqual(20);
    const history = (await (await fetch(`${heartbeat.url}/history?minutes=5`)).json()) as {
      resolutionSeconds: number;
      points: { connections: number; perGateway: Record<string, number> }[];
    };
    expect(history.resolutionSeconds).toBe(5);
    expect(
      history.points.some((point) => point.connections === 5 && Object.keys(point.perGateway).length === 3),
    ).toBe(true);
  }, 90_000);

  it('exposes the documented metric names on every service', async () => {
    const [g1] = gateways as [ServiceProcess];
    const names = async (service: ServiceProcess) =>
      new Set(
        (await (await fetch(`${service.url}/metrics`)).text())
          .split('\n')
          .filter((line) => line.startsWith('# TYPE '))
          .map((line) => line.split(' ')[2]),
      );
    const expected: [ServiceProcess, string[]][] = [
      [
        g1,
        [
          'herald_gateway_connections',
          'herald_gateway_subscribed_groups',
          'herald_gateway_deliveries_received_total',
          'herald_gateway_messages_written_total',
          'herald_gateway_delivery_latency_seconds',
          'herald_gateway_deliveries_duplicate_total',
          'herald_gateway_replays_total',
          'herald_gateway_caught_up_deliveries_total',
          'herald_nats_reconnects_total',
          'herald_process_process_cpu_user_seconds_total',
        ],
      ],
      [
        dispatcher,
        [
          'herald_dispatcher_events_total',
          'herald_dispatcher_deliveries_published_total',
          'herald_nats_reconnects_total',
        ],
      ],
      [pushWorker, ['herald_push_sends_total', 'herald_push_jobs_total', 'herald_nats_reconnects_total']],
      [
        heartbeat,
        [
          'herald_cluster_gateways',
          'herald_cluster_connections',
          'herald_cluster_users',
          'herald_cluster_deliveries_per_second',
          'herald_cluster_dead_letters',
          'herald_cluster_push_sends',
          'herald_nats_reconnects_total',
        ],
      ],
    ];
    for (const [service, metricNames] of expected) {
      const present = await names(service);
      expect(metricNames.filter((name) => !present.has(name))).toEqual([]);
    }
    for (const service of [g1, dispatcher, pushWorker, heartbeat]) {
      expect((await fetch(`${service.url}/health/live`)).status).toBe(200);
      expect(await (await fetch(`${service.url}/health/ready`)).json()).toMatchObject({ status: 'ok' });
    }
  });

  it('follows one notification through the logs by its W3C trace id', async () => {
    const [g1] = gateways as [ServiceProcess];
    const userId = randomUUID();
    const client = await HubClient.connect(`${g1.url}/notifications/hub`, {
      token: await issuer.userToken(userId),
    });
    clients.push(client);
    const traceId = randomUUID().replace(/-/g, '');
    const response = await fetch(`${g1.url}/send`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${await issuer.internalToken()}`,
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      },
      body: JSON.stringify({ type: 5, payload: { userId, date: new Date().toISOString() } }),
    });
    expect(response.status).toBe(200);
    await client.next((invocation) => invocation.target === 'ReceiveMessage');
    const messagesWithTrace = (service: ServiceProcess) =>
      service.logs.filter((line) => line.traceId === traceId).map((line) => line.msg);
    await eventually(() => {
      expect(messagesWithTrace(g1)).toEqual(
        expect.arrayContaining(['event accepted', 'delivery written to sockets']),
      );
      expect(messagesWithTrace(dispatcher)).toContain('event routed');
    });
  });
});
