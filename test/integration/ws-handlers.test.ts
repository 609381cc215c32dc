import { createConnectHandler } from '../../functions/connect';
import { createDisconnectHandler } from '../../functions/disconnect';
import { createMessageHandler } from '../../functions/message';
import { record } from '../helpers/record';
import { routeKeyFor } from '../../shared/routes';
import { ConnectionStore } from '../../shared/store/connections';
import { wsEvent } from '../helpers/events';
import { signToken, testRuntime, type TestRuntime } from '../helpers/runtime';

let t: TestRuntime;
let connect: ReturnType<typeof createConnectHandler>;
let message: ReturnType<typeof createMessageHandler>;
let disconnect: ReturnType<typeof createDisconnectHandler>;
let n = 0;

beforeAll(async () => {
  t = await testRuntime({ retainEvents: 3, maxSubscriptions: 3 });
  connect = createConnectHandler(async () => t.rt);
  message = createMessageHandler(async () => t.rt);
  disconnect = createDisconnectHandler(async () => t.rt);
});
afterAll(() => t.stop());

const token = (claims: Parameters<typeof signToken>[0], opts?: Parameters<typeof signToken>[1]) =>
  signToken(claims, { nowMs: t.clock.now(), ...opts });

async function connected(claims: Parameters<typeof signToken>[0], query: Record<string, string> = {}): Promise<string> {
  const id = `ws-${++n}`;
  const r = await connect(wsEvent('$connect', id, { query: { token: await token(claims), ...query } }));
  expect(r.statusCode).toBe(200);
  return id;
}

/**
 * Sends a frame and returns the frames posted back to that connection by this call; join / leave
 * frames (presence, which has tests of its own in presence-handlers.test.ts) are left out.
 */
async function send(connectionId: string, frame: unknown): Promise<Record<string, unknown>[]> {
  const before = t.mgmt.framesFor(connectionId).length;
  const body = typeof frame === 'string' ? frame : JSON.stringify(frame);
  const action = (() => {
    try {
      return (JSON.parse(body) as { action?: unknown }).action;
    } catch {
      return undefined;
    }
  })();
  expect((await message(wsEvent(routeKeyFor(action), connectionId, { body }))).statusCode).toBe(200);
  return t.mgmt
    .framesFor(connectionId)
    .slice(before)
    .filter((f) => f.type !== 'join' && f.type !== 'leave');
}

describe('$connect', () => {
  test.each([
    ['no token', {}],
    ['garbage token', { token: 'x.y.z' }],
  ])('%s → 401', async (_, query) => {
    expect((await connect(wsEvent('$connect', 'c-401', { query }))).statusCode).toBe(401);
  });

  test('expired or wrongly signed token → 401, and nothing is stored', async () => {
    const expired = await token({ sub: 'u' }, { expiresInSeconds: -1 });
    const wrongKey = await token({ sub: 'u' }, { secret: 'nope' });
    for (const tk of [expired, wrongKey])
      expect((await connect(wsEvent('$connect', 'c-x', { query: { token: tk } }))).statusCode).toBe(401);
    expect(await new ConnectionStore(t.rt.db, 60).get('c-x')).toBeUndefined();
  });

  test('?channels= subscribes at connect; invalid name → 400; forbidden → 403', async () => {
    const spec = { sub: 's2', role: 'specialist', specialist_id: 2 };
    const id = await connected(spec, { channels: 'specialist_2,public_lobby' });
    const store = new ConnectionStore(t.rt.db, 60);
    expect(await store.get(id)).toMatchObject({ subCount: 2, identity: { sub: 's2', specialistId: '2' } });
    expect(await store.countSubscribers('specialist_2')).toBeGreaterThanOrEqual(1);
    expect(t.mgmt.framesFor(id)).toEqual([]); // no subscribed frames for handshake channels
    expect(
      (
        await connect(
          wsEvent('$connect', 'c-400', { query: { token: await token(spec), channels: 'specialist_2,bad name' } }),
        )
      ).statusCode,
    ).toBe(400);
    const forbidden = await connect(
      wsEvent('$connect', 'c-403', { query: { token: await token(spec), channels: 'specialist_2,admin' } }),
    );
    expect(forbidden).toMatchObject({ statusCode: 403, body: expect.stringContaining('"admin"') });
    expect(await store.get('c-403')).toBeUndefined();
  });
});

describe('client frames', () => {
  test('subscribe answers with the channel’s current seq; ping answers pong; ids are echoed', async () => {
    const id = await connected({ sub: 'a', role: 'admin' });
    await record(t.rt.db, t.rt.config, { channels: ['specialist_7'], event: 'e', data: 1, id: 'pre-1' });
    expect(await send(id, { action: 'subscribe', channel: 'specialist_7', id: 'r1' })).toEqual([
      { type: 'subscribed', channel: 'specialist_7', seq: 1, id: 'r1' },
    ]);
    expect(await send(id, { action: 'ping', id: 'p' })).toEqual([
      { type: 'pong', ts: t.clock.now(), seqs: { specialist_7: 1 }, id: 'p' },
    ]);
    expect(await send(id, { action: 'unsubscribe', channel: 'specialist_7' })).toEqual([
      { type: 'unsubscribed', channel: 'specialist_7' },
    ]);
    expect(await new ConnectionStore(t.rt.db, 60).countSubscribers('specialist_7')).toBe(0);
  });

  test('subscribe with since replays retained events in order after the subscribed frame', async () => {
    const id = await connected({ sub: 'a', role: 'admin' });
    for (let i = 1; i <= 3; i++)
      await record(t.rt.db, t.rt.config, {
        channels: ['workpoint_9', 'admin'],
        event: 'upd',
        data: { i },
        id: `rp-${i}`,
      });
    const frames = await send(id, { action: 'subscribe', channel: 'workpoint_9', since: 1 });
    expect(frames).toEqual([
      { type: 'subscribed', channel: 'workpoint_9', seq: 3 },
      {
        type: 'event',
        id: 'rp-2',
        event: 'upd',
        data: { i: 2 },
        ts: t.clock.now(),
        channel: 'workpoint_9',
        seqs: { workpoint_9: 2 },
      },
      {
        type: 'event',
        id: 'rp-3',
        event: 'upd',
        data: { i: 3 },
        ts: t.clock.now(),
        channel: 'workpoint_9',
        seqs: { workpoint_9: 3 },
      },
    ]);
  });

  test('since older than retained history → reset instead of events; since ahead → reset', async () => {
    const id = await connected({ sub: 'a', role: 'admin' });
    for (let i = 1; i <= 5; i++)
      await record(t.rt.db, t.rt.config, { channels: ['specialist_50'], event: 'e', data: i, id: `old-${i}` });
    expect(await send(id, { action: 'subscribe', channel: 'specialist_50', since: 1 })).toEqual([
      { type: 'subscribed', channel: 'specialist_50', seq: 5 },
      { type: 'reset', channel: 'specialist_50', seq: 5 },
    ]);
    expect(await send(id, { action: 'subscribe', channel: 'specialist_50', since: 99 })).toEqual([
      { type: 'subscribed', channel: 'specialist_50', seq: 5 },
      { type: 'reset', channel: 'specialist_50', seq: 5 },
    ]);
  });

  test('forbidden channel → forbidden error, connection keeps working', async () => {
    const id = await connected({ sub: 's', role: 'specialist', specialist_id: 1 });
    expect(await send(id, { action: 'subscribe', channel: 'specialist_2', id: 'f' })).toEqual([
      { type: 'error', code: 'forbidden', message: 'not allowed to subscribe to "specialist_2"', id: 'f' },
    ]);
    expect(await send(id, { action: 'subscribe', channel: 'specialist_1' })).toEqual([
      { type: 'subscribed', channel: 'specialist_1', seq: 0 },
    ]);
  });

  test('a token that expired after connecting cannot subscribe any more', async () => {
    const id = `ws-exp-${++n}`;
    const short = await token({ sub: 'a', role: 'admin' }, { expiresInSeconds: 30 });
    expect((await connect(wsEvent('$connect', id, { query: { token: short } }))).statusCode).toBe(200);
    t.clock.advance(31_000);
    expect(await send(id, { action: 'subscribe', channel: 'admin' })).toEqual([
      { type: 'error', code: 'forbidden', message: expect.stringMatching(/token expired/) },
    ]);
  });

  test('over the subscription limit → limit error; re-subscribing an existing channel is not counted', async () => {
    const id = await connected({ sub: 'a', role: 'admin' }, { channels: 'specialist_1,specialist_2' });
    expect((await send(id, { action: 'subscribe', channel: 'specialist_3' }))[0]).toMatchObject({ type: 'subscribed' });
    expect((await send(id, { action: 'subscribe', channel: 'specialist_3' }))[0]).toMatchObject({ type: 'subscribed' });
    expect(await send(id, { action: 'subscribe', channel: 'specialist_4', id: 'l' })).toEqual([
      { type: 'error', code: 'limit', message: 'at most 3 subscriptions per connection', id: 'l' },
    ]);
  });

  test('bad frames get errors with the right codes and the connection survives', async () => {
    const id = await connected({ sub: 'a', role: 'admin' });
    expect((await send(id, 'not json'))[0]).toMatchObject({ type: 'error', code: 'bad_request' });
    expect((await send(id, { action: 'dance', id: 'd' }))[0]).toMatchObject({
      type: 'error',
      code: 'unknown_action',
      id: 'd',
    });
    expect((await send(id, { action: 'subscribe', channel: 'bad name' }))[0]).toMatchObject({
      type: 'error',
      code: 'bad_request',
    });
    expect((await send(id, { action: 'ping', pad: 'x'.repeat(5000), id: 'big' }))[0]).toMatchObject({
      type: 'error',
      code: 'too_large',
      id: 'big',
    });
    expect(await send(id, { action: 'ping' })).toEqual([{ type: 'pong', ts: expect.any(Number), seqs: {} }]);
  });

  test('base64-encoded frames are decoded', async () => {
    const id = await connected({ sub: 'a', role: 'admin' });
    const ev = {
      ...wsEvent('ping', id, { body: Buffer.from('{"action":"ping","id":"b64"}').toString('base64') }),
      isBase64Encoded: true,
    };
    await message(ev);
    expect(t.mgmt.framesFor(id).at(-1)).toMatchObject({ type: 'pong', id: 'b64' });
  });

  test('a failure inside an action answers internal without internals, and is logged', async () => {
    const id = `never-connected-${++n}`;
    expect(await send(id, { action: 'subscribe', channel: 'admin', id: 'i' })).toEqual([
      { type: 'error', code: 'internal', message: 'this connection is not registered any more; reconnect', id: 'i' },
    ]);
  });
});

describe('$disconnect', () => {
  test('removes the connection and every subscription', async () => {
    const id = await connected({ sub: 'a', role: 'admin' }, { channels: 'admin,workpoint_77' });
    await send(id, { action: 'subscribe', channel: 'specialist_77' });
    expect((await disconnect(wsEvent('$disconnect', id))).statusCode).toBe(200);
    const store = new ConnectionStore(t.rt.db, 60);
    expect(await store.get(id)).toBeUndefined();
    expect(await store.countSubscribers('workpoint_77')).toBe(0);
    expect(await store.countSubscribers('specialist_77')).toBe(0);
  });
});
