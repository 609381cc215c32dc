import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { RuntimeEvent } from '../../local/runtime';
import { WEBSOCKET_ROUTES } from '../../shared/routes';
import { runtimeForFile } from '../helpers/e2e';
import { signToken, type TokenClaims } from '../helpers/runtime';
import { HandshakeRejected, TestClient, uniqueId } from './support/ws-client';

/**
 * The local API Gateway: route table, handshake statuses, client frames, the 32 KB limit, the
 * @connections management API (through the real SDK client), lost disconnects, and the HTTP API.
 */
jest.setTimeout(60_000);

let mgmt: ApiGatewayManagementApiClient;
const clients: TestClient[] = [];

const e2e = runtimeForFile();
beforeAll(() => {
  mgmt = new ApiGatewayManagementApiClient({
    endpoint: e2e.rt.endpoints.websocketUrl.replace(/^ws:/, 'http:'),
    region: e2e.rt.endpoints.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await e2e.rt.settle();
});

afterAll(() => {
  mgmt?.destroy();
});

async function connect(claims: TokenClaims = { sub: 'u' }, opts: { channels?: string } = {}): Promise<TestClient> {
  const c = await TestClient.connect(e2e.rt.endpoints.websocketUrl, await signToken(claims), opts);
  clients.push(c);
  return c;
}

async function handshakeStatus(token: string | undefined, channels?: string): Promise<number> {
  try {
    const c = await TestClient.connect(e2e.rt.endpoints.websocketUrl, token, { channels });
    clients.push(c);
    return 101;
  } catch (err) {
    if (err instanceof HandshakeRejected) return err.status;
    throw err;
  }
}

async function http(
  path: string,
  init: { token?: string; method?: string } = {},
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const res = await fetch(`${e2e.rt.endpoints.httpUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: init.token ? { authorization: `Bearer ${init.token}` } : {},
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

const disconnectedEvent = (connectionId: string) =>
  e2e.rt.waitForEvent<Extract<RuntimeEvent, { type: 'disconnected' }>>(
    (e) => e.type === 'disconnected' && e.connectionId === connectionId,
    10_000,
    `$disconnect of ${connectionId}`,
  );

describe('routes', () => {
  test('the gateway dispatches exactly the shared route table', async () => {
    expect(e2e.rt.routes).toEqual(WEBSOCKET_ROUTES);
    const c = await connect();
    c.send({ action: 'ping', id: 'p1' });
    const pong = await c.next();
    expect(pong).toMatchObject({ type: 'pong', id: 'p1' });
    expect(Math.abs((pong.ts as number) - Date.now())).toBeLessThan(60_000);
    c.send({ action: 'unsubscribe', channel: 'public_never', id: 'u1' });
    expect(await c.next()).toEqual({ type: 'unsubscribed', channel: 'public_never', id: 'u1' });
    c.send({ action: 'shout', id: 'x1' });
    expect(await c.next()).toMatchObject({ type: 'error', code: 'unknown_action', id: 'x1' });
  });
});

describe('handshake', () => {
  test('a missing, malformed, forged or expired token fails with 401', async () => {
    expect(await handshakeStatus(undefined)).toBe(401);
    expect(await handshakeStatus('not-a-jwt')).toBe(401);
    expect(await handshakeStatus(await signToken({ sub: 'u' }, { secret: 'another-secret' }))).toBe(401);
    expect(await handshakeStatus(await signToken({ sub: 'u' }, { expiresInSeconds: -60 }))).toBe(401);
    await e2e.rt.waitForEvent((e) => e.type === 'rejected' && e.status === 401);
  });

  test('a forbidden channel in ?channels= fails with 403, an invalid name with 400', async () => {
    const token = await signToken({ sub: 'u', role: 'specialist', specialist_id: 7 });
    expect(await handshakeStatus(token, 'specialist_7,admin')).toBe(403);
    expect(await handshakeStatus(token, 'specialist_7,bad name')).toBe(400);
    expect(await handshakeStatus(token, 'specialist_7')).toBe(101);
  });
});

describe('client frames', () => {
  test('bad frames get error frames and the connection stays usable', async () => {
    const c = await connect();
    const cases: [string, string, string | undefined][] = [
      ['not json', 'bad_request', undefined],
      ['[1,2]', 'bad_request', undefined],
      ['{"id":"a"}', 'bad_request', 'a'],
      ['{"action":"subscribe","id":"b"}', 'bad_request', 'b'],
      ['{"action":"subscribe","channel":"bad name!","id":"c"}', 'bad_request', 'c'],
      ['{"action":"subscribe","channel":"public_x","since":-1,"id":"d"}', 'bad_request', 'd'],
      [JSON.stringify({ action: 'ping', id: 'e', pad: 'x'.repeat(5000) }), 'too_large', 'e'],
      [JSON.stringify({ action: 'ping', id: 'f', pad: 'x'.repeat(31 * 1024) }), 'too_large', 'f'],
      ['{"action":42,"id":"g"}', 'bad_request', 'g'],
    ];
    for (const [frame, code, id] of cases) {
      c.send(frame);
      const err = await c.next();
      expect(err).toMatchObject({ type: 'error', code });
      expect(err.id).toBe(id);
      expect(typeof err.message).toBe('string');
      expect(String(err.message)).not.toMatch(/at .*\.ts:\d+|Error:/);
    }
    c.send({ action: 'ping', id: 'alive' });
    expect(await c.next()).toMatchObject({ type: 'pong', id: 'alive' });
  });

  test('a frame over 32 KB closes the connection with 1009, and $disconnect runs', async () => {
    const c = await connect();
    const id = await e2e.rt.connectionIdOf(c.tag);
    c.send(JSON.stringify({ action: 'ping', pad: 'x'.repeat(33 * 1024) }));
    expect((await c.closed).code).toBe(1009);
    expect(await disconnectedEvent(id)).toMatchObject({ statusCode: 1009 });
  });

  test('a clean close runs $disconnect with the client close code', async () => {
    const c = await connect();
    const id = await e2e.rt.connectionIdOf(c.tag);
    await c.close();
    const e = await disconnectedEvent(id);
    expect(e.statusCode).toBe(1000);
    expect(e.reason).toContain('NORMAL_CLOSURE');
  });
});

describe('management API (@connections) through the AWS SDK', () => {
  test('GetConnection, PostToConnection (fragmented over 32 KB), DeleteConnection; unknown ids are GoneException', async () => {
    const c = await connect();
    const id = await e2e.rt.connectionIdOf(c.tag);

    const info = await mgmt.send(new GetConnectionCommand({ ConnectionId: id }));
    expect(info.ConnectedAt).toBeInstanceOf(Date);
    expect(Math.abs((info.ConnectedAt as Date).getTime() - Date.now())).toBeLessThan(60_000);
    expect(info.LastActiveAt).toBeInstanceOf(Date);
    expect(info.Identity?.SourceIp).toBe('127.0.0.1');

    await mgmt.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('{"type":"custom","n":1}') }));
    expect(await c.next()).toEqual({ type: 'custom', n: 1 });
    const big = JSON.stringify({ type: 'big', pad: 'y'.repeat(100 * 1024) });
    await mgmt.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from(big) }));
    expect((await c.next()).pad).toHaveLength(100 * 1024);
    await expect(
      mgmt.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.alloc(129 * 1024, 'z') })),
    ).rejects.toBeInstanceOf(PayloadTooLargeException);

    await expect(
      mgmt.send(new PostToConnectionCommand({ ConnectionId: 'nobodyHere0000=', Data: Buffer.from('{}') })),
    ).rejects.toBeInstanceOf(GoneException);
    await expect(mgmt.send(new GetConnectionCommand({ ConnectionId: 'nobodyHere0000=' }))).rejects.toBeInstanceOf(
      GoneException,
    );

    await mgmt.send(new DeleteConnectionCommand({ ConnectionId: id }));
    await c.closed;
    await disconnectedEvent(id);
    await expect(mgmt.send(new GetConnectionCommand({ ConnectionId: id }))).rejects.toBeInstanceOf(GoneException);
  });

  test('a client that vanishes without $disconnect is removed at the next event (410) and leaves /stats', async () => {
    const admin = await signToken({ sub: 'ops', role: 'admin' });
    const ch = `public_vanish_${uniqueId()}`;
    const lost = await connect();
    const stays = await connect();
    await lost.subscribe(ch);
    await stays.subscribe(ch);
    const lostId = await e2e.rt.connectionIdOf(lost.tag);
    await e2e.rt.settle();
    const before = (await http('/stats', { token: admin })).body as { connections: number; subscriptions: number };
    expect((await http(`/channels/${ch}`, { token: admin })).body).toMatchObject({ subscribers: 2 });

    expect(await e2e.rt.vanish(lostId)).toBe(true);
    expect((await lost.closed).code).toBe(1006);
    // AWS lost the disconnect: the record is still there, but the gateway answers 410 for it.
    await expect(mgmt.send(new GetConnectionCommand({ ConnectionId: lostId }))).rejects.toBeInstanceOf(GoneException);
    expect((await http(`/channels/${ch}`, { token: admin })).body).toMatchObject({ subscribers: 2 });

    const e = await e2e.pub.publish([ch], 'ping', null);
    expect(await stays.nextEvent(e.id)).toMatchObject({ seqs: { [ch]: 1 } });
    await e2e.rt.waitForEvent((ev) => ev.type === 'delivered' && ev.ids.includes(e.id), 10_000, 'the delivery');

    expect((await http(`/channels/${ch}`, { token: admin })).body).toMatchObject({ subscribers: 1 });
    const after = (await http('/stats', { token: admin })).body as { connections: number; subscriptions: number };
    expect(after.connections).toBe(before.connections - 1);
    expect(after.subscriptions).toBe(before.subscriptions - 1);
    expect(e2e.rt.events.some((ev) => ev.type === 'disconnected' && ev.connectionId === lostId)).toBe(false);
  });
});

describe('HTTP API', () => {
  test('serves the http handler on the HTTP API routes and static files for other GETs', async () => {
    const health = await http('/health');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ ok: true });
    expect(health.headers.get('apigw-requestid')).toBeTruthy();

    const token = await signToken({ sub: 'u' });
    expect(await http('/version?channels=public_nothing_yet', { token })).toMatchObject({
      status: 200,
      body: { versions: { public_nothing_yet: 0 } },
    });
    expect(await http('/version?channels=public_a')).toMatchObject({ status: 401 });
    expect(await http('/stats', { token })).toMatchObject({ status: 403 });

    const preflight = await http('/version', { method: 'OPTIONS' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('GET');

    const page = await http('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.text).toContain('<html');
    // No such file: the `$default` route's answer, the contract's 404 (protocol §5), as on AWS.
    expect(await http('/no-such-file.js')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect(await http('/../package.json')).toMatchObject({ status: 404 });
    expect(await http('/health', { method: 'POST' })).toMatchObject({ status: 404 });
  });
});
