import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';

import { BROKER_TRANSPORT } from '@herald/messaging';
import { loadConfig } from '@herald/platform';
import { listenOnLoopback, type TestApp } from '@herald/testing';

import { pushConfigSchema } from './config/push.config';
import { PushModule } from './push.module';

describe('PushModule on the memory engine, with SQLite', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-push-module-'));
  let service: TestApp;

  beforeAll(async () => {
    const config = loadConfig(pushConfigSchema, { HERALD_DATA_DIR: dataDir });
    service = await listenOnLoopback(
      PushModule.forRoot({ config, logger: pino({ level: 'silent' }), messaging: { engine: 'memory' } }),
      undefined,
      BROKER_TRANSPORT,
    );
  });

  afterAll(async () => {
    await service.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('boots without NATS, opens its SQLite file and reports ready', async () => {
    const response = await fetch(`${service.url}/health/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'ok',
      checks: { accepting: true, broker: true, database: true },
    });
  });
});
