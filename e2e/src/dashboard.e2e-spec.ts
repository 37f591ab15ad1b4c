import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Browser, chromium, type Page } from 'playwright-core';

import {
  deleteNamespace,
  eventually,
  HubClient,
  ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
  WORKSPACE_ROOT,
} from '@herald/testing';

/** The part of `GET /info` the page is checked against. */
interface ClusterInfo {
  gateways: { id: string; connections: Record<string, number> }[];
  totals: {
    gateways: number;
    connections: number;
    hubConnections: number;
    anonymousConnections: number;
    users: number;
  };
  deadLetters: Record<string, number>;
}

const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The part of a 2D canvas the pixel check reads (this project compiles without the DOM types). */
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): {
    fillStyle: string;
    fillRect(x: number, y: number, width: number, height: number): void;
    getImageData(x: number, y: number, width: number, height: number): { data: Uint8ClampedArray };
  } | null;
}
interface LegendItem {
  textContent: string | null;
  querySelector(selector: string): unknown;
}
interface BrowserGlobals {
  document: { createElement(tag: 'canvas'): CanvasLike };
  getComputedStyle(element: unknown): { backgroundColor: string };
}

/** Gateways beat every 5 s and the page polls every 2 s: a number takes up to ~7 s to move. */
const FOLLOWS = { timeoutMs: 20_000, intervalMs: 250 };

/**
 * The heartbeat service's live page in headless Chromium, against a real cluster: what it shows
 * follows `GET /info` as clients connect to and leave two gateways.
 */
describe('the heartbeat dashboard', () => {
  const namespace = testNamespace('dash');
  const env = { HERALD_NATS_URL: TEST_NATS_URL, HERALD_NAMESPACE: namespace };
  const screenshot = join(WORKSPACE_ROOT, 'test-results', 'dashboard.png');
  const services: ServiceProcess[] = [];
  const clients: HubClient[] = [];
  /** Script errors and console errors (a Content-Security-Policy violation is one). */
  const pageProblems: string[] = [];
  let issuer: TestIssuer;
  let gateways: [ServiceProcess, ServiceProcess];
  let heartbeat: ServiceProcess;
  let browser: Browser | undefined;
  let page: Page;

  const start = async (app: 'dispatcher' | 'gateway' | 'heartbeat', extra: Record<string, string> = {}) => {
    const service = await ServiceProcess.start(app, { ...env, HERALD_LOG_LEVEL: 'info', ...extra });
    services.push(service);
    return service;
  };

  const info = async (): Promise<ClusterInfo> => {
    const response = await fetch(`${heartbeat.url}/info`);
    expect(response.status).toBe(200);
    return (await response.json()) as ClusterInfo;
  };

  const shown = async (testId: string): Promise<string> =>
    ((await page.getByTestId(testId).textContent()) ?? '').trim();

  const shownCount = async (testId: string): Promise<number> =>
    Number((await shown(testId)).replace(/,/g, ''));

  /** Each gateway row's id and connections as the page shows them. */
  const shownRows = async (): Promise<Record<string, string>> => {
    const rows = await page.getByTestId('gateway-row').all();
    const entries = await Promise.all(
      rows.map(async (row): Promise<[string, string]> => [
        (await row.getAttribute('data-gateway-id')) ?? '',
        ((await row.locator('[data-column="connections"]').textContent()) ?? '').trim(),
      ]),
    );
    return Object.fromEntries(entries);
  };

  /**
   * Waits until /info reports `connections` in all (and `users`, when given) and the page shows what /info reports: the
   * totals, the per-hub split and every gateway's row. Returns that /info.
   */
  const pageFollows = (connections: number, users?: number): Promise<ClusterInfo> =>
    eventually(async () => {
      const reported = await info();
      expect(reported.totals.connections).toBe(connections);
      // A beat taken while a connection is still being set up counts it before its user.
      if (users !== undefined) expect(reported.totals.users).toBe(users);
      expect({
        gateways: await shownCount('total-gateways'),
        connections: await shownCount('total-connections'),
        perHub: await shown('total-connections-per-hub'),
        users: await shownCount('total-users'),
        rows: await shownRows(),
      }).toEqual({
        gateways: reported.totals.gateways,
        connections: reported.totals.connections,
        perHub: `hub ${reported.totals.hubConnections}, anonymous ${reported.totals.anonymousConnections}`,
        users: reported.totals.users,
        rows: Object.fromEntries(
          reported.gateways.map((gateway) => [
            gateway.id,
            String(Object.values(gateway.connections).reduce((sum, count) => sum + count, 0)),
          ]),
        ),
      });
      return reported;
    }, FOLLOWS);

  /**
   * Counts a canvas's pixels painted in `color` (any CSS colour; antialiased edges keep the
   * colour on a transparent canvas, so a small distance is allowed) and its painted pixels at all.
   * Unpainted pixels are transparent: the figure's background shows through them.
   */
  const painted = (testId: string, color: string) =>
    page.getByTestId(testId).evaluate((canvas, wanted) => {
      const browser = globalThis as unknown as BrowserGlobals;
      const probe = browser.document.createElement('canvas').getContext('2d')!;
      probe.fillStyle = wanted;
      probe.fillRect(0, 0, 1, 1);
      const [red, green, blue] = probe.getImageData(0, 0, 1, 1).data;
      const chart = canvas as unknown as CanvasLike;
      const { data } = chart.getContext('2d')!.getImageData(0, 0, chart.width, chart.height);
      let inColor = 0;
      let drawn = 0;
      for (let index = 0; index < data.length; index += 4) {
        if (data[index + 3] === 0) continue;
        drawn += 1;
        const distance =
          Math.abs(data[index]! - red!) +
          Math.abs(data[index + 1]! - green!) +
          Math.abs(data[index + 2]! - blue!);
        if (distance <= 24 && data[index + 3]! >= 128) inColor += 1;
      }
      return { inColor, drawn };
    }, color);

  const connect = async (gateway: ServiceProcess): Promise<HubClient> => {
    const token = await issuer.userToken(randomUUID());
    const client = await HubClient.connect(`${gateway.url}/notifications/hub`, { token });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    issuer = await TestIssuer.create();
    const gatewayEnv = { HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem };
    const [first, second] = await Promise.all([
      start('gateway', gatewayEnv),
      start('gateway', gatewayEnv),
      start('dispatcher'),
    ]);
    gateways = [first, second];
    heartbeat = await start('heartbeat');
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (error) => pageProblems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // Chromium asks for /favicon.ico on its own; the service has none.
      if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) {
        pageProblems.push(`console error: ${message.text()}`);
      }
    });
    await page.goto(`${heartbeat.url}/`);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop().catch(() => undefined)));
    await browser?.close();
    await Promise.all(services.map((service) => service.stop()));
    await deleteNamespace(namespace);
  }, 60_000);

  it('lists both gateways, with the cluster totals /info reports', async () => {
    const reported = await eventually(async () => {
      const current = await info();
      expect(current.gateways).toHaveLength(2);
      return current;
    }, FOLLOWS);
    await pageFollows(reported.totals.connections);
    expect(Object.keys(await shownRows()).sort()).toEqual(
      reported.gateways.map((gateway) => gateway.id).sort(),
    );
    expect(await shown('total-deliveries-per-second')).toMatch(/^\d[\d,]*\.\d$/);
    expect(await shown('updated-at')).toMatch(/^\d\d:\d\d:\d\d$/);
    expect(await page.getByTestId('poll-error').isHidden()).toBe(true);
    expect(await page.getByTestId('dead-letters').locator('tbody tr').count()).toBe(
      Math.max(1, Object.keys(reported.deadLetters).length),
    );
  }, 45_000);

  it('follows clients as they connect and leave', async () => {
    const [first, second] = gateways;
    const before = (await pageFollows((await info()).totals.connections)).totals;
    const arriving = await Promise.all([connect(first), connect(first), connect(second)]);
    const up = (await pageFollows(before.connections + 3, before.users + 3)).totals;
    expect(up.users).toBe(before.users + 3);
    await Promise.all(arriving.slice(0, 2).map((client) => client.stop()));
    const down = (await pageFollows(before.connections + 1, before.users + 1)).totals;
    expect(down.users).toBe(before.users + 1);
    expect(pageProblems).toEqual([]);
  }, 90_000);

  it('draws the connections and deliveries charts', async () => {
    for (const testId of ['chart-connections', 'chart-deliveries']) {
      const canvas = page.getByTestId(testId);
      const box = await canvas.boundingBox();
      expect(box?.width).toBeGreaterThan(0);
      expect(box?.height).toBeGreaterThan(0);
      // The script sizes the bitmap each time it draws.
      expect(Number(await canvas.getAttribute('width'))).toBeGreaterThan(0);
    }
    const gatewayIds = (await info()).gateways.map((gateway) => gateway.id);
    await eventually(async () => {
      const legend = await page.getByTestId('chart-connections-legend').locator('li').allTextContents();
      expect(legend).toEqual(expect.arrayContaining(['total', ...gatewayIds]));
    }, FOLLOWS);
    // Each gateway's line is drawn in its legend colour, and the deliveries line in the first
    // palette colour (#2563eb): a blank canvas, or one with only the axes, has none of them.
    const legendColors = await page
      .getByTestId('chart-connections-legend')
      .locator('li')
      .evaluateAll((items: unknown[]) =>
        (items as LegendItem[]).map((item): [string, string] => [
          item.textContent?.trim() ?? '',
          (globalThis as unknown as BrowserGlobals).getComputedStyle(item.querySelector('.swatch'))
            .backgroundColor,
        ]),
      );
    const gatewayColors = legendColors.filter(([label]) => gatewayIds.includes(label));
    expect(gatewayColors).toHaveLength(gatewayIds.length);
    await eventually(async () => {
      for (const [label, color] of gatewayColors) {
        const { inColor, drawn } = await painted('chart-connections', color);
        expect({ label, color, inColor: inColor >= 4 }).toEqual({ label, color, inColor: true });
        // The grid and axis labels are painted too, in other colours.
        expect(drawn).toBeGreaterThan(inColor);
      }
      const deliveries = await painted('chart-deliveries', '#2563eb');
      expect({ deliveriesLine: deliveries.inColor >= 4 }).toEqual({ deliveriesLine: true });
    }, FOLLOWS);
    mkdirSync(join(WORKSPACE_ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    process.stdout.write(`\n[dashboard] screenshot: ${screenshot}\n`);
    expect(pageProblems).toEqual([]);
  }, 45_000);
});
