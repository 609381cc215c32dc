import { createHttpHandler } from '../../functions/http';
import { record } from '../helpers/record';
import { ConnectionStore } from '../../shared/store/connections';
import { httpEvent } from '../helpers/events';
import { signToken, testRuntime, type TestRuntime } from '../helpers/runtime';

let t: TestRuntime;
let http: ReturnType<typeof createHttpHandler>;
beforeAll(async () => {
  t = await testRuntime({ retainEvents: 3, corsOrigins: ['https://app.example'] });
  http = createHttpHandler(async () => t.rt);
  for (let i = 1; i <= 4; i++)
    await record(t.rt.db, t.rt.config, {
      channels: ['specialist_2', 'workpoint_5'],
      event: 'create',
      data: { i },
      id: `h-${i}`,
    });
});
afterAll(() => t.stop());

const admin = () => signToken({ sub: 'adm', role: 'admin' }, { nowMs: t.clock.now() });
const specialist = () => signToken({ sub: 's2', role: 'specialist', specialist_id: '2' }, { nowMs: t.clock.now() });

async function get(path: string, query: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const r = await http(httpEvent('GET', path, { query, headers }));
  return {
    status: r.statusCode,
    headers: r.headers ?? {},
    body: r.body ? (JSON.parse(r.body) as Record<string, unknown>) : undefined,
  };
}
const bearer = async (tk: Promise<string>) => ({ authorization: `Bearer ${await tk}` });

describe('HTTP API', () => {
  test('GET /health needs no token', async () => {
    expect(await get('/health')).toMatchObject({ status: 200, body: { ok: true } });
  });

  test('GET /version answers every channel, 0 for one never published', async () => {
    const r = await get('/version', { channels: 'specialist_2,public_x' }, await bearer(specialist()));
    expect(r).toMatchObject({ status: 200, body: { versions: { specialist_2: 4, public_x: 0 } } });
  });

  test('GET /version accepts ?token= too', async () => {
    expect((await get('/version', { channels: 'specialist_2', token: await specialist() })).status).toBe(200);
  });

  test('GET /version with a forbidden channel → 403 with the error body', async () => {
    const r = await get('/version', { channels: 'specialist_2,workpoint_5' }, await bearer(specialist()));
    expect(r).toEqual({
      status: 403,
      headers: expect.any(Object),
      body: { error: { code: 'forbidden', message: 'not allowed to read "workpoint_5"' } },
    });
  });

  test('missing, bad, or expired token → 401 with the error body', async () => {
    expect(await get('/version', { channels: 'a' })).toMatchObject({
      status: 401,
      body: { error: { code: 'unauthorized', message: 'missing token' } },
    });
    expect((await get('/version', { channels: 'a' }, { authorization: 'Basic abc' })).status).toBe(401);
    const expired = await signToken({ sub: 'x' }, { expiresInSeconds: -5, nowMs: t.clock.now() });
    expect(await get('/version', { channels: 'a' }, await bearer(Promise.resolve(expired)))).toMatchObject({
      status: 401,
      body: { error: { message: 'token expired' } },
    });
  });

  test('bad input → 400', async () => {
    expect((await get('/version', {}, await bearer(admin()))).status).toBe(400);
    expect((await get('/version', { channels: 'bad name' }, await bearer(admin()))).status).toBe(400);
    expect((await get('/events', {}, await bearer(admin()))).status).toBe(400);
    expect((await get('/events', { channel: 'admin', since: '-1' }, await bearer(admin()))).status).toBe(400);
  });

  test('GET /events returns retained events after since as event frames', async () => {
    const r = await get('/events', { channel: 'specialist_2', since: '2' }, await bearer(specialist()));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      channel: 'specialist_2',
      seq: 4,
      reset: false,
      events: [3, 4].map((i) => ({
        type: 'event',
        id: `h-${i}`,
        event: 'create',
        data: { i },
        ts: t.clock.now(),
        channel: 'specialist_2',
        seqs: { specialist_2: i },
      })),
    });
  });

  test('GET /events: since defaults to 0; history not covering since+1 → reset with no events', async () => {
    expect((await get('/events', { channel: 'specialist_2' }, await bearer(specialist()))).body).toEqual({
      channel: 'specialist_2',
      seq: 4,
      events: [],
      reset: true,
    });
  });

  test('GET /channels/<name> (admin) like nchan channel info; zeros for an unknown channel; 403 for others', async () => {
    await new ConnectionStore(t.rt.db, 60).create('http-sub', { sub: 'x', exp: 4e9 }, ['workpoint_5']);
    expect((await get('/channels/workpoint_5', {}, await bearer(admin()))).body).toEqual({
      channel: 'workpoint_5',
      seq: 4,
      subscribers: 1,
      retained: 3,
    });
    expect((await get('/channels/nothing_here', {}, await bearer(admin()))).body).toEqual({
      channel: 'nothing_here',
      seq: 0,
      subscribers: 0,
      retained: 0,
    });
    expect((await get('/channels/workpoint_5', {}, await bearer(specialist()))).status).toBe(403);
  });

  test('GET /stats (admin) counts connections, subscriptions, channels, published', async () => {
    const r = await get('/stats', {}, await bearer(admin()));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ connections: 1, subscriptions: 1, channels: 2, published: 0, delivered: 0 });
    expect((await get('/stats', {}, await bearer(specialist()))).status).toBe(403);
  });

  test('dispatch is on the routeKey API Gateway matched, with its decoded path parameters', async () => {
    const decoded = await get('/channels/nothing%3Ahere', {}, await bearer(admin()));
    expect(decoded.body).toEqual({ channel: 'nothing:here', seq: 0, subscribers: 0, retained: 0 });
    // The route decides, not the path: what API Gateway matched is what runs.
    const health = await http({ ...httpEvent('GET', '/version'), routeKey: 'GET /health' });
    expect(JSON.parse(health.body ?? '')).toEqual({ ok: true });
    expect((await http(httpEvent('OPTIONS', '/'))).statusCode).toBe(204); // `$default`: a preflight anywhere
  });

  test('unknown path or another method → 404', async () => {
    expect(await get('/nope', {}, await bearer(admin()))).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found' } },
    });
    expect((await http(httpEvent('POST', '/version'))).statusCode).toBe(404);
  });

  test('CORS: allowed origin echoed; others not; preflight answered without a token', async () => {
    expect((await get('/health', {}, { origin: 'https://app.example' })).headers['access-control-allow-origin']).toBe(
      'https://app.example',
    );
    expect(
      (await get('/health', {}, { origin: 'https://evil.example' })).headers['access-control-allow-origin'],
    ).toBeUndefined();
    const pre = await http(
      httpEvent('OPTIONS', '/version', {
        headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' },
      }),
    );
    expect(pre.statusCode).toBe(204);
    expect(pre.headers).toMatchObject({
      'access-control-allow-origin': 'https://app.example',
      'access-control-allow-headers': expect.stringContaining('Authorization'),
    });
  });
});
