import { randomUUID } from 'node:crypto';
import { createConnectHandler } from '../../functions/connect';
import { createDeliverHandler } from '../../functions/deliver';
import { createDisconnectHandler } from '../../functions/disconnect';
import { createFanoutHandler } from '../../functions/fanout';
import { createHttpHandler } from '../../functions/http';
import { createMessageHandler } from '../../functions/message';
import { createSequencerHandler } from '../../functions/sequencer';
import { sqsRecord } from '../../local/api-gateway-events';
import { frameHead, type LaneMessage } from '../../shared/lanes';
import { runtimeFrom, type Runtime } from '../../shared/runtime';
import { RecordingTelemetry } from '../../shared/telemetry';
import { testConfig } from '../helpers/config';
import { httpEvent, wsEvent } from '../helpers/events';
import { dynamoClient, signToken, sqsClient, testRuntime, type TestRuntime } from '../helpers/runtime';

/**
 * Every handler's unexpected-error path (shared/handler.ts): DynamoDB answers every call with an
 * error (the runtime's table does not exist in DynamoDB Local), and each handler must still give the
 * contract's answer, log the failure with the invocation's keys, and never leak internals.
 */
let t: TestRuntime;
let telemetry: RecordingTelemetry;
let broken: Runtime;
const runtime = async () => broken;

beforeAll(async () => {
  t = await testRuntime();
  telemetry = new RecordingTelemetry();
  broken = runtimeFrom({
    config: testConfig({ tableName: `missing-${randomUUID()}`, managementEndpoint: t.mgmt.endpoint }),
    dynamo: dynamoClient(),
    sqs: sqsClient(),
    log: telemetry,
    metrics: telemetry,
  });
});
afterAll(() => t.stop());

/** The error lines logged since `from`, with the keys they carried. */
const errorsSince = (from: number) => telemetry.lines.slice(from).filter((l) => l.level === 'error');

test('$connect: 500 without internals; the failure is logged with the connection id and route', async () => {
  const from = telemetry.lines.length;
  const r = await createConnectHandler(runtime)(
    wsEvent('$connect', 'err-connect', {
      query: { token: await signToken({ sub: 'u', role: 'admin' }), channels: 'admin' },
    }),
  );
  expect(r).toEqual({ statusCode: 500, body: 'Internal Server Error' });
  expect(errorsSince(from)).toEqual([
    expect.objectContaining({
      message: 'connect failed',
      keys: expect.objectContaining({ function: 'connect', connectionId: 'err-connect', route: '$connect' }),
    }),
  ]);
  expect(telemetry.counters.HandlerError).toBeGreaterThanOrEqual(1);
});

test('message: an internal error frame with the request id, nothing of the error itself', async () => {
  const from = telemetry.lines.length;
  const r = await createMessageHandler(runtime)(
    wsEvent('subscribe', 'err-message', { body: JSON.stringify({ action: 'subscribe', channel: 'admin', id: 's1' }) }),
  );
  expect(r).toEqual({ statusCode: 200 });
  expect(t.mgmt.framesFor('err-message')).toEqual([
    { type: 'error', code: 'internal', message: 'the server could not complete this request; try again', id: 's1' },
  ]);
  expect(errorsSince(from)).toEqual([
    expect.objectContaining({
      message: 'message failed',
      keys: expect.objectContaining({ connectionId: 'err-message', route: 'subscribe' }),
    }),
  ]);
});

test('$disconnect: does not throw; the failure is logged (the records expire with their TTL)', async () => {
  const from = telemetry.lines.length;
  await expect(createDisconnectHandler(runtime)(wsEvent('$disconnect', 'err-disconnect'))).resolves.toEqual({
    statusCode: 500,
  });
  expect(errorsSince(from)).toEqual([
    expect.objectContaining({
      message: 'disconnect failed',
      keys: expect.objectContaining({ connectionId: 'err-disconnect', route: '$disconnect' }),
    }),
  ]);
});

test('http: 500 with the contract body and CORS headers', async () => {
  const token = await signToken({ sub: 'u', role: 'admin' });
  const r = await createHttpHandler(runtime)(
    httpEvent('GET', '/version', {
      query: { channels: 'admin' },
      headers: { authorization: `Bearer ${token}`, origin: 'https://app.example' },
    }),
  );
  expect(r).toEqual({
    statusCode: 500,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'access-control-allow-origin': '*' },
    body: JSON.stringify({ error: { code: 'internal', message: 'internal error' } }),
  });
});

test('WebSocket handlers answer an event that is not one with 400 and a log line, never a throw', async () => {
  for (const make of [createConnectHandler, createMessageHandler, createDisconnectHandler]) {
    await expect(make(runtime)({ requestContext: {} })).resolves.toMatchObject({ statusCode: 400 });
  }
  expect(telemetry.lines.filter((l) => /is not an API Gateway WebSocket event/.test(l.message))).toHaveLength(3);
});

const record = (id: string, body: string) =>
  sqsRecord(
    {
      MessageId: id,
      ReceiptHandle: `rh-${id}`,
      Body: body,
      Attributes: { ApproximateReceiveCount: '1', MessageGroupId: 'order' },
    },
    'arn:aws:sqs:us-east-1:000000000000:q',
    'us-east-1',
  );

test('sequencer: a batch DynamoDB refuses until the deadline is reported failed, every record of it', async () => {
  const body = (id: string) => JSON.stringify({ id, channels: ['admin'], event: 'e', data: null });
  const r = await createSequencerHandler(runtime)(
    { Records: [record('m1', body('e1')), record('m2', body('e2'))] },
    { getRemainingTimeInMillis: () => 1000 },
  );
  expect(r).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }] });
  expect(telemetry.counters.FailedBatch).toBeGreaterThanOrEqual(1);
});

test('fanout: records it cannot forward to the order queue are reported failed', async () => {
  const rt = runtimeFrom({
    config: {
      ...broken.config,
      orderQueueUrl: `http://sqs.us-east-1.localhost/000000000000/missing-${randomUUID()}.fifo`,
    },
    dynamo: dynamoClient(),
    sqs: sqsClient(),
    log: telemetry,
    metrics: telemetry,
  });
  const notification = JSON.stringify({
    Type: 'Notification',
    MessageId: 'sns-1',
    Message: JSON.stringify({ channels: ['admin'], event: 'e', id: 'f1' }),
  });
  const r = await createFanoutHandler(async () => rt)(
    { Records: [record('f1', notification)] },
    { getRemainingTimeInMillis: () => 1000 },
  );
  expect(r).toEqual({ batchItemFailures: [{ itemIdentifier: 'f1' }] });
});

test('deliver: a post answered with an unexpected status (403) fails the batch so it is retried', async () => {
  t.mgmt.failNext.set('err-deliver', { status: 403, times: 1 });
  const lane: LaneMessage = {
    v: 1,
    events: [{ head: frameHead({ id: 'd1', event: 'e', data: null }, 1), targets: [['err-deliver', { admin: 1 }]] }],
  };
  const r = await createDeliverHandler(async () => t.rt)(
    { Records: [record('d1', JSON.stringify(lane))] },
    { getRemainingTimeInMillis: () => 5000 },
  );
  expect(r).toEqual({ batchItemFailures: [{ itemIdentifier: 'd1' }] });
});

test('an SQS consumer that fails outside its batch work still reports every record failed, never throws', async () => {
  const from = telemetry.lines.length;
  const context = {
    getRemainingTimeInMillis: (): number => {
      throw new Error('injected: the context cannot tell the time');
    },
  };
  const r = await createSequencerHandler(runtime)({ Records: [record('x1', '{}'), record('x2', '{}')] }, context);
  expect(r).toEqual({ batchItemFailures: [{ itemIdentifier: 'x1' }, { itemIdentifier: 'x2' }] });
  expect(errorsSince(from)).toEqual([
    expect.objectContaining({ message: 'sequencer failed', keys: expect.objectContaining({ function: 'sequencer' }) }),
  ]);
});
