import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { portFree } from '../../local/dynamodb-local';
import type { LocalEndpoints } from '../../local/runtime';
import {
  bannerShown,
  killStartedProcesses,
  REPO_ROOT,
  spawnStart,
  spawnTsx,
  startEnv,
  type StartedProcess,
} from '../helpers/local-start';
import { TestClient } from './support/ws-client';

/**
 * `npm start` as a developer runs it (`node --import tsx local/start.ts`, DynamoDB Local on Java
 * included): readiness, `.local/endpoints.json` (protocol §7), the banner's token, the CLI tools,
 * a clean Ctrl-C, and one-line failures for a taken port, a missing Java and a dying child.
 */
jest.setTimeout(90_000);

const ENDPOINT_KEYS = [
  'websocketUrl',
  'httpUrl',
  'snsEndpoint',
  'topicArn',
  'region',
  'dynamodbEndpoint',
  'tableName',
  'jwtSecret',
  'demoUrl',
];
afterAll(killStartedProcesses);

interface Started extends StartedProcess {
  file: string;
}

const cleanEnv = startEnv;

function start(extraEnv: Record<string, string> = {}): Started {
  const file = path.join(os.tmpdir(), `switchboard-start-${randomUUID()}`, 'endpoints.json');
  return { ...spawnStart(['--endpoints-file', file], startEnv(extraEnv)), file };
}

const ready = (s: Started) => bannerShown(s);

/** Runs a CLI tool to completion. */
function cli(tool: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', `local/cli/${tool}.ts`, ...args],
      { cwd: REPO_ROOT, env: cleanEnv({}) },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function portsOf(e: LocalEndpoints): number[] {
  return [e.httpUrl, e.websocketUrl, e.snsEndpoint, e.dynamodbEndpoint].map((u) => Number(new URL(u).port));
}

/** Java processes (and their watchdog shells) serving DynamoDB Local on this port. */
function dynamoDbPids(port: number): number[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps
    .split('\n')
    .filter((l) => l.includes('DynamoDBLocal.jar') && new RegExp(`-port ${port}(\\s|$)`).test(l))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

test('npm start: ready, endpoints.json per protocol §7, a working banner token, CLI tools, and a clean Ctrl-C', async () => {
  const s = start();
  await ready(s);
  const endpoints = JSON.parse(fs.readFileSync(s.file, 'utf8')) as LocalEndpoints;
  expect(Object.keys(endpoints)).toEqual(ENDPOINT_KEYS);
  expect(endpoints).toMatchObject({
    region: 'us-east-1',
    tableName: 'switchboard-local',
    jwtSecret: 'local-dev-secret',
    topicArn: 'arn:aws:sns:us-east-1:000000000000:switchboard',
  });
  expect(endpoints.websocketUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
  for (const k of ['httpUrl', 'snsEndpoint', 'dynamodbEndpoint'] as const)
    expect(endpoints[k]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(endpoints.demoUrl).toBe(`${endpoints.httpUrl}/`);
  const javaPids = dynamoDbPids(Number(new URL(endpoints.dynamodbEndpoint).port));
  expect(javaPids.length).toBeGreaterThan(0);

  // The banner's admin token works as printed.
  const banner = s.stdout();
  const token = banner
    .split('\n')
    .find((l) => /^\s+eyJ/.test(l))
    ?.trim() as string;
  expect(decodeJwt(token)).toMatchObject({ role: 'admin' });
  expect(banner).toContain(`npm run publish -- --channels admin --event hello --data '{"hi":1}'`);
  expect(banner).toContain('npm run tail --');
  const admin = await TestClient.connect(endpoints.websocketUrl, token);
  expect(await admin.subscribe('admin')).toMatchObject({ type: 'subscribed', channel: 'admin' });

  // token → a JWT with the claims asked for.
  const minted = await cli('token', [
    '--sub',
    'u1',
    '--role',
    'specialist',
    '--specialist-id',
    '2',
    '--workpoint-id',
    '5',
    '--channels',
    'a,b*',
    '--ttl',
    '60',
    '--endpoints-file',
    s.file,
  ]);
  expect(minted.code).toBe(0);
  const claims = decodeJwt(minted.stdout.trim());
  expect(claims).toMatchObject({
    sub: 'u1',
    role: 'specialist',
    specialist_id: '2',
    workpoint_id: '5',
    channels: ['a', 'b*'],
  });
  expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(60);

  // tail prints what publish sends.
  const tail = spawnTsx(
    'local/cli/tail.ts',
    ['--role', 'admin', '--channels', 'admin', '--raw', '--endpoints-file', s.file],
    cleanEnv({}),
  ).child;
  let tailOut = '';
  const tailLine = (pred: (line: string) => boolean) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tail printed no such line:\n${tailOut}`)), 20_000);
      const check = () => {
        const line = tailOut.split('\n').find(pred);
        if (line) {
          clearTimeout(timer);
          resolve(line);
        }
      };
      tail.stdout?.on('data', (d: Buffer) => {
        tailOut += d.toString();
        check();
      });
      check();
    });
  await tailLine((l) => l.includes('"subscribed"'));
  const published = await cli('publish', [
    '--channels',
    'admin',
    '--event',
    'hello',
    '--data',
    '{"hi":1}',
    '--endpoints-file',
    s.file,
  ]);
  expect(published.code).toBe(0);
  const messageId = published.stdout.match(/^published (\S+) to arn:aws:sns:/)?.[1];
  expect(messageId).toBeTruthy();
  const line = await tailLine((l) => l.includes('"event"'));
  expect(JSON.parse(line)).toMatchObject({
    type: 'event',
    id: messageId,
    event: 'hello',
    data: { hi: 1 },
    channel: 'admin',
  });
  expect(await admin.nextEvent(messageId)).toMatchObject({ data: { hi: 1 } });
  const tailExit = new Promise<number | null>((resolve) => tail.once('exit', resolve));
  tail.kill('SIGINT');
  expect(await tailExit).toBe(0);

  const bad = await cli('publish', [
    '--channels',
    'admin',
    '--event',
    'x',
    '--data',
    '{nope',
    '--endpoints-file',
    s.file,
  ]);
  expect(bad.code).toBe(2);
  expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  const rejected = await cli('publish', ['--channels', 'admin,not ok', '--event', 'x', '--endpoints-file', s.file]);
  expect(rejected.code).toBe(2);
  expect(rejected.stderr).toMatch(/would reject this message: channels\.1/);

  // Ctrl-C: the client is told, the process exits 0, Java is gone and every port is free again.
  s.child.kill('SIGINT');
  expect((await admin.closed).code).toBe(1001);
  expect(await s.exited).toBe(0);
  expect(dynamoDbPids(Number(new URL(endpoints.dynamodbEndpoint).port))).toEqual([]);
  for (const port of portsOf(endpoints)) expect(await portFree(port)).toBe(true);
});

test('a taken port is reported in one line naming the variable', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const s = start({ WS_PORT: String(port) });
    expect(await s.exited).toBe(1);
    expect(s.stderr().trim()).toBe(
      `switchboard: could not start: port ${port} (WS_PORT) is already in use on 127.0.0.1: stop what uses it or set WS_PORT to another port`,
    );
  } finally {
    blocker.close();
  }
});

test('a missing Java is reported in one line', async () => {
  const s = start({ PATH: '/nonexistent' });
  expect(await s.exited).toBe(1);
  const lines = s.stderr().trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^switchboard: could not start: Java is not installed/);
});

test('a dying DynamoDB Local stops the runtime with one line', async () => {
  const s = start();
  await ready(s);
  const endpoints = JSON.parse(fs.readFileSync(s.file, 'utf8')) as LocalEndpoints;
  const ddbPort = Number(new URL(endpoints.dynamodbEndpoint).port);
  // Kill the JVM this test started (found by its port), as a crash would.
  const java = execFileSync('ps', ['-eo', 'pid=,comm=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /^\s*\d+\s+java\s/.test(l) && l.includes(`-port ${ddbPort}`))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
  expect(java).toHaveLength(1);
  process.kill(java[0] as number, 'SIGKILL');
  expect(await s.exited).toBe(1);
  expect(s.stderr()).toMatch(/^switchboard: DynamoDB Local exited unexpectedly \(exit code \d+\)/m);
  expect(s.stderr()).not.toMatch(/\n\s+at /);
  for (const port of portsOf(endpoints)) expect(await portFree(port)).toBe(true);
});

test('a SIGKILLed npm start leaves neither the SQS emulator nor Java behind', async () => {
  const s = start();
  await ready(s);
  const endpoints = JSON.parse(fs.readFileSync(s.file, 'utf8')) as LocalEndpoints;
  s.child.kill('SIGKILL');
  await s.exited;
  // Both children watch their stdin (a pipe from the dead process) and exit when it closes.
  const deadline = Date.now() + 15_000;
  const ports = [Number(new URL(endpoints.snsEndpoint).port), Number(new URL(endpoints.dynamodbEndpoint).port)];
  let free: boolean[] = [];
  while (Date.now() < deadline) {
    free = await Promise.all(ports.map((p) => portFree(p)));
    if (free.every(Boolean)) break;
    await new Promise((r) => setTimeout(r, 100)); // polling ports: no event announces that a process let go of one
  }
  expect(free).toEqual([true, true]);
});
