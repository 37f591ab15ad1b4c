import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from '@jest/globals';
import { decodeJwt, importSPKI, jwtVerify } from 'jose';

import { DEV_TOKEN_ISSUER } from '@herald/auth';
import { PushType } from '@herald/contracts';

import { type Output } from './cli';
import { buildPayload, parsePushType } from './commands/publish';
import { renderStatus } from './commands/status';
import { COMMANDS, runCli } from './herald-cli';

function capture(): Output & { stdout: string; stderr: string } {
  const output = {
    stdout: '',
    stderr: '',
    out: (text: string) => void (output.stdout += `${text}\n`),
    err: (text: string) => void (output.stderr += `${text}\n`),
  };
  return output;
}

describe('herald', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'herald-cli-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('has --help on every command, and says so for a mistake', async () => {
    for (const command of COMMANDS) {
      const output = capture();
      expect(await runCli([command.name, '--help'], output)).toBe(0);
      expect(output.stdout).toContain(`herald ${command.name}`);
    }
    const unknown = capture();
    expect(await runCli(['tokn'], unknown)).toBe(2);
    expect(unknown.stderr).toContain('unknown command "tokn"');

    const wrong = capture();
    expect(await runCli(['publish', 'SyncVault', '--user', 'not-a-guid'], wrong)).toBe(2);
    expect(wrong.stderr).toContain('--user must be a GUID, got "not-a-guid"');
    expect(wrong.stderr).toContain('herald publish --help');

    const flag = capture();
    expect(await runCli(['token', 'user', '--colour'], flag)).toBe(2);
    expect(flag.stderr).toMatch(/Unknown option '--colour'/);
  });

  it('mints user and internal tokens the development public key verifies', async () => {
    const user = capture();
    const userId = '6f4ff0a4-5f5f-4c4b-9a55-2f1d3c0e8b11';
    const org = '0b4a1f0e-7c1d-4c2e-9f3a-5d6e7f8a9b0c';
    expect(
      await runCli(
        [
          'token',
          'user',
          '--user',
          userId,
          '--org',
          org,
          '--device-type',
          'Android',
          '--data-dir',
          dataDir,
          '--expires',
          '15m',
        ],
        user,
      ),
    ).toBe(0);
    const key = await importSPKI(readFileSync(join(dataDir, 'dev-jwt-public.pem'), 'utf8'), 'RS256');
    const { payload } = await jwtVerify(user.stdout.trim(), key, { issuer: DEV_TOKEN_ISSUER });
    expect(payload).toMatchObject({
      sub: userId,
      orguser: [org],
      devicetype: 'Android',
      scope: ['api', 'offline_access'],
    });
    expect(payload.exp! - payload.iat!).toBe(900);

    const internal = capture();
    expect(await runCli(['token', 'internal', '--data-dir', dataDir], internal)).toBe(0);
    expect(decodeJwt(internal.stdout.trim())).toMatchObject({ scope: ['internal'] });

    const badType = capture();
    expect(await runCli(['token', 'user', '--device-type', 'Toaster', '--data-dir', dataDir], badType)).toBe(
      2,
    );
    expect(badType.stderr).toContain('not a Bitwarden device type');
  });

  it('builds a payload for the type from the options, and refuses options the type does not have', () => {
    expect(parsePushType('syncvault')).toBe(PushType.SyncVault);
    expect(parsePushType('16')).toBe(PushType.AuthRequestResponse);
    expect(() => parsePushType('SyncEverything')).toThrow('unknown push type "SyncEverything"');
    // Any number up to 255, known to Herald or not.
    expect(parsePushType('28')).toBe(28);
    expect(parsePushType('255')).toBe(255);
    expect(() => parsePushType('256')).toThrow('a number from 0 to 255');

    const user = '6f4ff0a4-5f5f-4c4b-9a55-2f1d3c0e8b11';
    expect(buildPayload(PushType.SyncVault, { user }, {})).toEqual({
      UserId: user,
      Date: expect.any(String),
    });
    expect(buildPayload(PushType.LogOut, { user }, { Reason: 1 })).toEqual({ UserId: user, Reason: 1 });
    expect(() => buildPayload(PushType.SyncVault, { org: user }, {})).toThrow(
      'SyncVault has no OrganizationId; its payload fields are UserId, Date',
    );
    // An unknown type has no schema: the ids given, and --payload's fields as written.
    expect(buildPayload(28, { user }, { approverInbox: true })).toEqual({
      UserId: user,
      approverInbox: true,
    });
  });

  it('posts --recipient users as explicit recipients, and refuses one that is not a GUID', async () => {
    const bodies: unknown[] = [];
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        bodies.push(JSON.parse(Buffer.concat(chunks).toString()));
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const org = '1f0e4d2c-3b4a-4958-8a7b-6c5d4e3f2a10';
      const [first, second] = [
        '6F4FF0A4-5F5F-4C4B-9A55-2F1D3C0E8B11',
        '0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3',
      ];
      const output = capture();
      const args = ['publish', 'SyncCipherUpdate', '--org', org, '--recipient', first, '--recipient', second];
      expect(await runCli([...args, '--url', url, '--token', 't'], output)).toBe(0);
      expect(output.stdout).toContain('published SyncCipherUpdate');
      expect(bodies).toEqual([
        expect.objectContaining({
          type: 0,
          payload: expect.objectContaining({ OrganizationId: org }),
          recipients: { users: [first.toLowerCase(), second] },
        }),
      ]);
      const plain = capture();
      expect(await runCli(['publish', '28', '--user', second, '--url', url, '--token', 't'], plain)).toBe(0);
      expect(plain.stdout).toContain('published type 28');
      expect(bodies[1]).toEqual({ type: 28, payload: { UserId: second }, contextId: null });
    } finally {
      server.close();
    }
    const wrong = capture();
    expect(await runCli(['publish', 'SyncVault', '--recipient', 'nope'], wrong)).toBe(2);
    expect(wrong.stderr).toContain('--recipient must be a GUID, got "nope"');
  });

  it('renders the cluster view as a table', () => {
    const now = Date.parse('2026-12-01T12:00:10Z');
    const text = renderStatus(
      {
        generatedAt: '2026-12-01T12:00:10Z',
        gateways: [
          {
            id: 'gw-1',
            host: 'node-a',
            version: '0.1.0',
            connections: { hub: 12, 'anonymous-hub': 1 },
            users: 7,
            deliveriesPerSecond: 3.25,
            slowClosed: 0,
            subscriptions: 9,
            bytesPerSecond: 1200,
            replays: 0,
            watermark: 42,
            startedAt: '2026-12-01T11:00:00Z',
            lastBeatAt: '2026-12-01T12:00:06Z',
          },
        ],
        totals: {
          gateways: 1,
          connections: 13,
          hubConnections: 12,
          anonymousConnections: 1,
          users: 7,
          deliveriesPerSecond: 3.25,
        },
        push: { fcm: { sent: 4, failed: 1 } },
        bridges: [
          {
            id: 'vw-1',
            source: 'vaultwarden',
            host: 'node-b',
            version: '0.1.0',
            leader: true,
            pending: 3,
            lagSeconds: 0.25,
            published: 40,
            startedAt: '2026-12-01T11:00:00Z',
            lastBeatAt: '2026-12-01T12:00:08Z',
          },
        ],
        deadLetters: { events: 2 },
      },
      now,
    );
    expect(text).toContain('1 gateway, 13 connections (12 hub, 1 anonymous), 7 users, 3.3 deliveries/s');
    expect(text).toMatch(/gw-1\s+node-a\s+0\.1\.0\s+12\s+1\s+7\s+3\.3\s+0\s+4 s ago/);
    expect(text).toMatch(/fcm\s+1\s+4/);
    expect(text).toContain('dead letters: events 2');
    expect(text).toMatch(/vw-1\s+vaultwarden\s+working\s+3\s+0\.3\s+40\s+2 s ago/);
  });

  it('prints the Vaultwarden bridge SQL, and asks for a database or an action it knows', async () => {
    const printed = capture();
    expect(await runCli(['vaultwarden', 'install', '--print'], printed)).toBe(0);
    expect(printed.stdout).toContain('CREATE SCHEMA IF NOT EXISTS herald_bridge');
    expect(printed.stdout).toContain('CREATE TRIGGER herald_bridge_capture AFTER');
    const removal = capture();
    expect(await runCli(['vaultwarden', 'uninstall', '--print'], removal)).toBe(0);
    expect(removal.stdout).toContain('DROP SCHEMA IF EXISTS herald_bridge CASCADE');
    const unknown = capture();
    expect(await runCli(['vaultwarden', 'reinstall'], unknown)).toBe(2);
    expect(unknown.stderr).toContain('unknown action "reinstall"');
  });
});
