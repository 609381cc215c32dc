import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { mintToken, type TokenClaims as MintClaims } from '../../local/tokens';
import type { Config } from '../../shared/config';
import { testConfig } from './config';
import { runtimeFrom, type Runtime } from '../../shared/runtime';
import { sqsFor } from '../../shared/sqs-client';
import { createTable } from '../../shared/store/create-table';
import { RecordingTelemetry } from '../../shared/telemetry';
import { TestManagementServer } from './management-server';

/** A controllable clock. */
export class TestClock {
  // Starts at the real time: DynamoDB Local applies TTL deletion against the real clock.
  constructor(public t = Date.now()) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export function dynamoClient(): DynamoDBClient {
  const endpoint = process.env.SWITCHBOARD_TEST_DYNAMODB_ENDPOINT;
  if (!endpoint)
    throw new Error('SWITCHBOARD_TEST_DYNAMODB_ENDPOINT is not set: jest globalSetup starts DynamoDB Local');
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}

export function sqsClient(): SQSClient {
  const endpoint = process.env.SWITCHBOARD_TEST_SQS_ENDPOINT;
  if (!endpoint) throw new Error('SWITCHBOARD_TEST_SQS_ENDPOINT is not set: jest globalSetup starts the SQS emulator');
  return new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    useQueueUrlAsEndpoint: false,
  });
}

export interface TestRuntime {
  rt: Runtime;
  telemetry: RecordingTelemetry;
  clock: TestClock;
  mgmt: TestManagementServer;
  stop(): Promise<void>;
}

/** A runtime on a fresh table in DynamoDB Local, posting to a fresh test management server. */
export async function testRuntime(overrides: Partial<Config> = {}): Promise<TestRuntime> {
  const dynamo = dynamoClient();
  const tableName = `t-${randomUUID()}`;
  await createTable(dynamo, tableName);
  const mgmt = await new TestManagementServer().start();
  const telemetry = new RecordingTelemetry();
  const clock = new TestClock();
  const rt = runtimeFrom({
    config: testConfig({ tableName, managementEndpoint: mgmt.endpoint, ...overrides }),
    clock,
    dynamo,
    log: telemetry,
    metrics: telemetry,
    sqs: sqsClient(),
  });
  return {
    rt,
    telemetry,
    clock,
    mgmt,
    async stop() {
      await mgmt.stop();
      dynamo.destroy();
      sqsFor(rt).destroy();
    },
  };
}

export type TokenClaims = Partial<MintClaims>;

/** A token for the tests (`sub` defaults to `user-1`), minted as local mode mints them (local/tokens.ts). */
export function signToken(
  claims: TokenClaims,
  opts: { secret?: string; expiresInSeconds?: number; nowMs?: number } = {},
): Promise<string> {
  return mintToken({ ...claims, sub: claims.sub ?? 'user-1' }, opts.secret, opts.expiresInSeconds, opts.nowMs);
}

/** A fresh FIFO queue on the SQS emulator (e.g. a delivery queue for the sequencer to send lanes to). */
export async function fifoQueue(t: TestRuntime, prefix: string): Promise<string> {
  const r = await sqsFor(t.rt).send(
    new CreateQueueCommand({
      QueueName: `${prefix}-${randomUUID().slice(0, 8)}.fifo`,
      Attributes: { FifoQueue: 'true' },
    }),
  );
  return r.QueueUrl as string;
}
