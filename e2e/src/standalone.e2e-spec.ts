import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import {
  createTestDatabase,
  deleteNamespace,
  eventually,
  freePort,
  HubClient,
  ServiceProcess,
  TEST_NATS_URL,
  TestIssuer,
  testNamespace,
  WORKSPACE_ROOT,
} from '@herald/testing';

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

/** The environment of a person's terminal: no HERALD_*, no CI, nothing that tells Nx to stay quiet. */
function personEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith('HERALD_') && !key.startsWith('NX_') && key !== 'CI',
    ),
  );
  return { ...env, TERM: 'xterm-256color', ...extra };
}

/**
 * `npm start` as a new user runs it: in a fresh clone, in a terminal (a pseudo-terminal made by
 * `script`), with nothing configured and nothing typed. Then the CLI of that clone mints tokens and
 * publishes, and the real SignalR client receives, on the hub and the anonymous hub.
 */
describe('npm start in a fresh clone, in a terminal', () => {
  const clone = mkdtempSync(join(tmpdir(), 'herald-clone-'));
  let terminal: ChildProcess;
  let screen = '';
  let port: number;
  const clients: HubClient[] = [];
  // As the README says: `npm run herald -- <command>` in the checkout. Awaited, never blocking:
  // a blocked event loop leaves pooled keep-alive sockets unread while the server closes them.
  const cli = async (...args: string[]): Promise<string> =>
    (
      await promisify(execFile)('npm', ['run', '--silent', 'herald', '--', ...args], {
        cwd: clone,
        env: personEnvironment({}),
        encoding: 'utf8',
      })
    ).stdout.trim();

  beforeAll(async () => {
    execFileSync('git', ['clone', '--quiet', WORKSPACE_ROOT, clone]);
    // `npm ci` in the clone would install the same lockfile again; the installed tree is shared.
    symlinkSync(join(WORKSPACE_ROOT, 'node_modules'), join(clone, 'node_modules'));
    port = await freePort();
    terminal = spawn('script', ['-qfec', 'npm start', '/dev/null'], {
      cwd: clone,
      env: personEnvironment({ HERALD_GATEWAY_PORT: String(port) }),
      // stdin stays open and silent: a prompt would wait forever, and the banner would never come.
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    terminal.stdout!.on('data', (chunk: Buffer) => (screen += chunk.toString('utf8')));
    terminal.stderr!.on('data', (chunk: Buffer) => (screen += chunk.toString('utf8')));
    await eventually(
      () => {
        if (terminal.exitCode !== null) throw new Error(`npm start exited:\n${screen}`);
        if (!screen.includes('Ctrl-C stops it'))
          throw new Error(`no banner yet:\n${screen.replace(ANSI, '')}`);
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
  }, 150_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.stop()));
    if (terminal && terminal.exitCode === null) {
      terminal.kill('SIGKILL');
    }
    rmSync(clone, { recursive: true, force: true });
  });

  it('asks nothing, prints a banner that says where everything is, and keeps routine lines out', () => {
    const text = screen.replace(ANSI, '').replace(/\r/g, '');

    expect(text).not.toMatch(/Help improve Nx|Share usage data|\? /);
    expect(text).toContain('Herald is ready: gateway, dispatcher, push worker and heartbeat in one process.');
    expect(text).toContain(`ws://localhost:${port}/notifications/hub`);
    expect(text).toContain(`ws://localhost:${port}/notifications/anonymous-hub`);
    expect(text).toContain(`POST http://localhost:${port}/send`);
    expect(text).toContain(`http://localhost:${port}/dashboard/`);
    expect(text).toContain(`in memory, in this process`);
    expect(text).toContain(`SQLite ${join(clone, '.herald-data', 'herald.sqlite')}`);
    expect(text).toContain(`development key ${join(clone, '.herald-data', 'dev-jwt-public.pem')}`);
    expect(text).toContain('npm run herald -- token user');
    // Human lines, not JSON, and none of Nest's route mappings.
    expect(text).not.toMatch(/^\{"level"/m);
    expect(text).not.toMatch(/Mapped \{/);
    expect(text.split('\n').length).toBeLessThan(60);
  });

  it('lets Nx itself run in the terminal without asking anything (analytics off in nx.json)', async () => {
    // `npm run build` and `npm test` run Nx on the terminal directly: a prompt would wait forever.
    const nx = spawn('script', ['-qfec', 'npx nx show projects', '/dev/null'], {
      cwd: clone,
      env: personEnvironment({}),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    nx.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        nx.kill('SIGKILL');
        resolve(null);
      }, 45_000);
      nx.once('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    const text = output.replace(ANSI, '');
    expect({ code, prompted: /Help improve Nx|Share usage data/.test(text) }).toEqual({
      code: 0,
      prompted: false,
    });
    expect(text).toContain('standalone');
  });

  it('serves the hub to a token from the CLI, and delivers what the CLI and /send publish', async () => {
    const userId = randomUUID();
    const token = await cli('token', 'user', '--user', userId);
    const client = await HubClient.connect(`http://localhost:${port}/notifications/hub`, { token });
    clients.push(client);

    expect(
      await cli('publish', 'SyncVault', '--user', userId, '--url', `http://localhost:${port}`),
    ).toContain('published SyncVault');
    const viaCli = await client.next(
      (message) => message.target === 'ReceiveMessage' && JSON.stringify(message.args).includes('"Type":5'),
    );
    expect(JSON.stringify(viaCli.args)).toContain(userId);

    const folder = randomUUID();
    const response = await fetch(`http://localhost:${port}/send`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${await cli('token', 'internal')}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        type: 7,
        payload: { Id: folder, UserId: userId, RevisionDate: new Date().toISOString() },
        contextId: null,
      }),
    });
    expect(response.status).toBe(200);
    await client.next((message) => JSON.stringify(message.args).includes(folder));
  });

  it('answers a login with device on the anonymous hub', async () => {
    const requestId = randomUUID();
    const waiting = await HubClient.connect(
      `http://localhost:${port}/notifications/anonymous-hub?Token=${requestId}`,
    );
    clients.push(waiting);

    await cli(
      'publish',
      'AuthRequestResponse',
      '--id',
      requestId,
      '--user',
      randomUUID(),
      '--url',
      `http://localhost:${port}`,
    );

    const answer = await waiting.next((message) => message.target === 'AuthRequestResponseRecieved');
    expect(JSON.stringify(answer.args)).toContain(requestId);
  });

  it('shows the cluster with herald status, the dashboard under /dashboard/, and stops on Ctrl-C', async () => {
    const status = await cli('status', '--url', `http://localhost:${port}/dashboard`);
    expect(status).toMatch(/^1 gateway, \d+ connections? \(/);

    const dashboard = await fetch(`http://localhost:${port}/dashboard/`);
    expect(await dashboard.text()).toContain('<title>Herald cluster</title>');
    // Without its slash the page's relative fetches would miss: it is sent to the directory.
    const bare = await fetch(`http://localhost:${port}/dashboard`, { redirect: 'manual' });
    expect([bare.status, bare.headers.get('location')]).toEqual([301, 'dashboard/']);
    const info = (await (await fetch(`http://localhost:${port}/dashboard/info`)).json()) as {
      gateways: unknown[];
    };
    expect(info.gateways).toHaveLength(1);

    await Promise.all(clients.splice(0).map((client) => client.stop()));
    const exited = new Promise<number | null>((resolve) => terminal.once('exit', (code) => resolve(code)));
    terminal.stdin!.write('\u0003'); // Ctrl-C in the terminal
    // npm reports a run ended by Ctrl-C as 130, as shells do; Herald itself drained and stopped.
    expect([0, 130]).toContain(await exited);
    const text = screen.replace(ANSI, '');
    expect(text).toMatch(/INFO: shutting down \{"signal":"SIGINT"\}/);
    expect(text).toMatch(/INFO: stopped/);
    expect(text).not.toMatch(/shutdown took too long|ERROR|FATAL/);
  });
});

/** The same single process on real NATS and PostgreSQL, as when HERALD_NATS_URL and HERALD_DATABASE_URL are set. */
describe('the single process on NATS and PostgreSQL', () => {
  const namespace = testNamespace('solo');
  let issuer: TestIssuer;
  let herald: ServiceProcess;
  let dropDatabase: () => Promise<void> = () => Promise.resolve();

  beforeAll(async () => {
    issuer = await TestIssuer.create({ issuer: 'https://vault.example|login' });
    const database = await createTestDatabase();
    dropDatabase = database.drop;
    herald = await ServiceProcess.start('standalone', {
      HERALD_NATS_URL: TEST_NATS_URL,
      HERALD_NAMESPACE: namespace,
      HERALD_DATABASE_URL: database.url,
      HERALD_JWT_PUBLIC_KEY: issuer.publicKeyPem,
      HERALD_JWT_ISSUER: issuer.issuer,
      HERALD_DATA_DIR: mkdtempSync(join(tmpdir(), 'herald-solo-')),
    });
  });

  afterAll(async () => {
    await herald?.stop();
    await dropDatabase();
    await deleteNamespace(namespace);
  });

  it('says which engine and database it uses, and delivers what is published over NATS', async () => {
    const ready = await eventually(() => {
      const line = herald.logs.find((log) => log.msg === 'herald is ready');
      if (!line) throw new Error('no ready line');
      return line;
    });
    expect(ready['engine']).toBe(`NATS JetStream at ${TEST_NATS_URL}`);
    expect(String(ready['database'])).toMatch(/^PostgreSQL postgres:\/\//);
    expect(ready['devKeys']).toBe(false);
    expect(await (await fetch(`${herald.url}/health/ready`)).json()).toMatchObject({
      checks: { nats: true, database: true },
    });

    const userId = randomUUID();
    const client = await HubClient.connect(`${herald.url}/notifications/hub`, {
      token: await issuer.userToken(userId),
    });
    try {
      const cliPath = join(WORKSPACE_ROOT, 'dist', 'cli', 'apps', 'cli', 'src', 'main.js');
      expect(existsSync(cliPath)).toBe(true);
      const output = execFileSync(
        process.execPath,
        [cliPath, 'publish', 'LogOut', '--user', userId, '--nats', TEST_NATS_URL, '--namespace', namespace],
        { encoding: 'utf8' },
      );
      expect(output).toMatch(/published LogOut [0-9a-f-]{36} \(EVENTS sequence \d+\)/);
      await client.next((message) => JSON.stringify(message.args).includes('"Type":11'));
    } finally {
      await client.stop();
    }
  });
});
