import {
  ApiGatewayManagementApiClient,
  LimitExceededException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FAULT_NAMES } from '../../local/faults';
import type { LocalEndpoints } from '../../local/runtime';
import { signToken } from '../helpers/runtime';
import {
  bannerShown,
  killStartedProcesses,
  REPO_ROOT,
  sharedDynamoEnv,
  spawnStart,
  startEnv,
  type StartedProcess,
} from '../helpers/local-start';
import { HandshakeRejected, TestClient } from './support/ws-client';

/**
 * `SWITCHBOARD_LOCAL_FAULTS` through `npm start` (`node --import tsx local/start.ts`, as
 * package.json runs it): a bad spec is refused with one line and exit code 1 before anything
 * starts; the banner names the active faults and the seed; the faults reach the gateway and the
 * handlers' DynamoDB (through the fault proxy) while `.local/endpoints.json` keeps the real DynamoDB.
 * Runs against the DynamoDB Local of jest's global setup (no Java start per test).
 */
jest.setTimeout(90_000);

afterAll(killStartedProcesses);

interface Started extends StartedProcess {
  file: string;
}

function start(extraEnv: Record<string, string>): Started {
  const file = path.join(os.tmpdir(), `switchboard-faults-${randomUUID()}`, 'endpoints.json');
  return { ...spawnStart(['--endpoints-file', file], startEnv({ ...sharedDynamoEnv('faults'), ...extraEnv })), file };
}

const ready = (s: Started) => bannerShown(s);

async function stop(s: Started): Promise<number | null> {
  s.child.kill('SIGTERM');
  return s.exited;
}

describe('a bad SWITCHBOARD_LOCAL_FAULTS is refused at start with one line and exit code 1', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      'an unknown name',
      { SWITCHBOARD_LOCAL_FAULTS: 'post_429=0.1,post_teapot=0.2' },
      /^switchboard: could not start: SWITCHBOARD_LOCAL_FAULTS: unknown fault "post_teapot" \(known: post_429, .*fanout_timeout, sqs_duplicate\)$/,
    ],
    [
      'a probability over 1',
      { SWITCHBOARD_LOCAL_FAULTS: 'post_5xx=1.5' },
      /^switchboard: could not start: SWITCHBOARD_LOCAL_FAULTS: post_5xx needs a probability from 0 to 1, as in post_5xx=0.05, got "1.5"$/,
    ],
    [
      'a negative probability',
      { SWITCHBOARD_LOCAL_FAULTS: 'ddb_throttle=-0.1' },
      /^switchboard: could not start: SWITCHBOARD_LOCAL_FAULTS: ddb_throttle needs a probability from 0 to 1.*got "-0.1"$/,
    ],
    [
      'a seed that is no integer',
      { SWITCHBOARD_LOCAL_FAULTS: 'post_429=0.1', SWITCHBOARD_LOCAL_SEED: 'abc' },
      /^switchboard: could not start: SWITCHBOARD_LOCAL_SEED must be an integer, got "abc"$/,
    ],
  ];
  test.each(cases)('%s', async (_what, env, line) => {
    const s = start(env);
    expect(await s.exited).toBe(1);
    expect(s.stdout()).toBe('');
    const lines = s.stderr().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(line);
  });

  test('every fault name is documented in docs/local.md', () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'local.md'), 'utf8');
    for (const name of FAULT_NAMES) expect(doc).toContain(`\`${name}\``);
  });
});

test('the banner says "faults: none" by default', async () => {
  const s = start({ SWITCHBOARD_LOCAL_FAULTS: '' });
  await ready(s);
  expect(s.stdout()).toMatch(/^ {2}faults {6}none$/m);
  expect(await stop(s)).toBe(0);
});

test('ddb_throttle=1,post_429=1: the banner lists them with the seed; handlers are throttled, endpoints.json is not; posts answer 429', async () => {
  const s = start({ SWITCHBOARD_LOCAL_FAULTS: 'ddb_throttle=1, post_429=1', SWITCHBOARD_LOCAL_SEED: '42' });
  await ready(s);
  expect(s.stdout()).toMatch(/^ {2}faults {6}ddb_throttle=1, post_429=1 \(seed 42\)$/m);
  const endpoints = JSON.parse(fs.readFileSync(s.file, 'utf8')) as LocalEndpoints;
  expect(endpoints.dynamodbEndpoint).toBe(process.env.SWITCHBOARD_TEST_DYNAMODB_ENDPOINT);

  // endpoints.json's DynamoDB is the real one: never throttled.
  const ddb = new DynamoDBClient({
    endpoint: endpoints.dynamodbEndpoint,
    region: endpoints.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  const mgmt = new ApiGatewayManagementApiClient({
    endpoint: endpoints.websocketUrl.replace(/^ws:/, 'http:'),
    region: endpoints.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  try {
    const tables = await ddb.send(new ListTablesCommand({}));
    expect(tables.TableNames).toContain(endpoints.tableName);
    // $connect's DynamoDB writes are throttled on every attempt: the handler fails, the handshake is 500.
    const err = await TestClient.connect(endpoints.websocketUrl, await signToken({ sub: 'u' })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HandshakeRejected);
    expect((err as HandshakeRejected).status).toBe(500);
    // post_429 answers before the connection is looked up.
    await expect(
      mgmt.send(new PostToConnectionCommand({ ConnectionId: 'AAAAAAAAAAAAAAA=', Data: Buffer.from('{}') })),
    ).rejects.toBeInstanceOf(LimitExceededException);
  } finally {
    ddb.destroy();
    mgmt.destroy();
  }
  expect(await stop(s)).toBe(0);
});
