import {
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { startDdbFaultProxy, type DdbFaultProxy } from '../../local/ddb-fault-proxy';
import { parseFaults } from '../../local/faults';

/**
 * The `ddb_throttle` fault: a proxy in front of DynamoDB Local (jest's global setup runs one) that
 * answers ProvisionedThroughputExceededException exactly as DynamoDB does, or forwards the request.
 * Observed through the real DynamoDB SDK client.
 */
jest.setTimeout(30_000);

const target = (): string => {
  const endpoint = process.env.SWITCHBOARD_TEST_DYNAMODB_ENDPOINT;
  if (!endpoint)
    throw new Error('SWITCHBOARD_TEST_DYNAMODB_ENDPOINT is not set: jest globalSetup starts DynamoDB Local');
  return endpoint;
};

const proxies: DdbFaultProxy[] = [];
const clients: DynamoDBClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const p of proxies.splice(0)) await p.stop();
});

async function proxyWith(spec: string): Promise<DdbFaultProxy> {
  const proxy = await startDdbFaultProxy({ target: target(), faults: parseFaults(spec, '7') });
  proxies.push(proxy);
  return proxy;
}

function client(endpoint: string, maxAttempts = 1): DynamoDBClient {
  const c = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts,
  });
  clients.push(c);
  return c;
}

test('ddb_throttle=1: every call fails with ProvisionedThroughputExceededException (HTTP 400), as DynamoDB answers it', async () => {
  const proxy = await proxyWith('ddb_throttle=1');
  const ddb = client(proxy.endpoint);
  const err = await ddb.send(new ListTablesCommand({})).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ProvisionedThroughputExceededException);
  expect((err as ProvisionedThroughputExceededException).$metadata.httpStatusCode).toBe(400);
  expect((err as Error).message).toMatch(/provisioned throughput for the table was exceeded/);
  // A request with a body (read to its end first): the keep-alive connection stays usable.
  await expect(ddb.send(new GetItemCommand({ TableName: 'anything', Key: { pk: { S: 'x' } } }))).rejects.toBeInstanceOf(
    ProvisionedThroughputExceededException,
  );
  await expect(ddb.send(new ListTablesCommand({}))).rejects.toBeInstanceOf(ProvisionedThroughputExceededException);
  // The SDK treats it as a throttle and retries it (then gives up, as every attempt is throttled).
  const retrying = client(proxy.endpoint, 2);
  const retried = (await retrying
    .send(new ListTablesCommand({}))
    .catch((e: unknown) => e)) as ProvisionedThroughputExceededException;
  expect(retried).toBeInstanceOf(ProvisionedThroughputExceededException);
  expect(retried.$metadata.attempts).toBe(2);
});

test('ddb_throttle=0: every call passes through unchanged (writes, reads, errors of DynamoDB Local itself)', async () => {
  const proxy = await proxyWith('ddb_throttle=0');
  const ddb = client(proxy.endpoint);
  const direct = client(target());
  const table = `proxy-${randomUUID()}`;
  await ddb.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  try {
    // A large item streams through both ways.
    const big = 'y'.repeat(300 * 1024);
    await ddb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'a' }, big: { S: big } } }));
    const viaDirect = await direct.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: 'a' } }, ConsistentRead: true }),
    );
    expect(viaDirect.Item?.big?.S).toBe(big);
    const viaProxy = await ddb.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: 'a' } }, ConsistentRead: true }),
    );
    expect(viaProxy.Item?.big?.S).toBe(big);
    // Many calls at once over the proxy's keep-alive connections.
    const gets = await Promise.all(
      [...Array(40).keys()].map(() => ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'a' } } }))),
    );
    expect(gets.every((g) => g.Item?.pk?.S === 'a')).toBe(true);
    // DynamoDB Local's own errors come back as they are.
    const missing = (await ddb
      .send(new GetItemCommand({ TableName: `missing-${randomUUID()}`, Key: { pk: { S: 'a' } } }))
      .catch((e: unknown) => e)) as Error;
    expect(missing.name).toBe('ResourceNotFoundException');
  } finally {
    await direct.send(new DeleteTableCommand({ TableName: table }));
  }
});

test('ddb_throttle=0.5 with a seed: some calls are throttled and the rest pass, the same ones on every run', async () => {
  const outcomes = async (): Promise<string> => {
    const proxy = await proxyWith('ddb_throttle=0.5');
    const ddb = client(proxy.endpoint);
    let seen = '';
    for (let i = 0; i < 20; i++) {
      const r = await ddb.send(new ListTablesCommand({})).then(
        () => 'ok',
        (e: unknown) =>
          e instanceof ProvisionedThroughputExceededException ? 'throttled' : `unexpected ${(e as Error).name}`,
      );
      seen += r === 'ok' ? '.' : r === 'throttled' ? 'T' : `[${r}]`;
    }
    return seen;
  };
  const first = await outcomes();
  expect(first).toMatch(/^[.T]+$/);
  expect(first).toContain('T');
  expect(first).toContain('.');
  expect(await outcomes()).toBe(first);
});
