import { createConnectHandler } from '../../functions/connect';
import { createDisconnectHandler } from '../../functions/disconnect';
import { createHttpHandler } from '../../functions/http';
import { createMessageHandler } from '../../functions/message';
import { removeGone } from '../../shared/deliver-batch';
import { routeKeyFor } from '../../shared/routes';
import type { OpCounts } from '../../shared/store/db';
import { httpEvent, wsEvent } from '../helpers/events';
import { signToken, testRuntime, type TestRuntime, type TokenClaims } from '../helpers/runtime';

/**
 * Presence through the real handlers (protocol §8), on DynamoDB Local and a test management server
 * that records every post: join / leave frames to each subscriber, first join and last leave across
 * connections, `presence` and `GET /presence`, the 410 clean-up, and what each join and leave costs
 * (DynamoDB operations from the `presence` log line, and posts).
 */
let t: TestRuntime;
let connect: ReturnType<typeof createConnectHandler>;
let message: ReturnType<typeof createMessageHandler>;
let disconnect: ReturnType<typeof createDisconnectHandler>;
let http: ReturnType<typeof createHttpHandler>;
let n = 0;

beforeAll(async () => {
  t = await testRuntime();
  connect = createConnectHandler(async () => t.rt);
  message = createMessageHandler(async () => t.rt);
  disconnect = createDisconnectHandler(async () => t.rt);
  http = createHttpHandler(async () => t.rt);
});
afterAll(() => t.stop());

const BEN = { sub: 'spec-2', role: 'specialist', specialist_id: 2, name: 'Dr. Ben Okafor' };
const ADMIN = { sub: 'adm', role: 'admin', name: 'Ada Admin' };
const SUPERVISOR = { sub: 'sup-5', role: 'supervisor', workpoint_id: 5 };
const member = (c: TokenClaims) => ({
  sub: c.sub,
  ...(c.role && { role: c.role }),
  ...(typeof c.name === 'string' && { name: c.name }),
});

async function connected(claims: TokenClaims, channels?: string): Promise<string> {
  const id = `conn-${++n}`;
  const r = await connect(
    wsEvent('$connect', id, {
      query: { token: await signToken(claims, { nowMs: t.clock.now() }), ...(channels && { channels }) },
    }),
  );
  expect(r.statusCode).toBe(200);
  return id;
}

async function send(connectionId: string, frame: Record<string, unknown>): Promise<void> {
  expect(
    (await message(wsEvent(routeKeyFor(frame.action), connectionId, { body: JSON.stringify(frame) }))).statusCode,
  ).toBe(200);
}

/** Frames posted to a connection from here on. */
function watch(connectionId: string): () => Record<string, unknown>[] {
  const before = t.mgmt.framesFor(connectionId).length;
  return () => t.mgmt.framesFor(connectionId).slice(before);
}

const presenceFrames = (frames: Record<string, unknown>[]) =>
  frames.filter((f) => f.type === 'join' || f.type === 'leave');

/** The `presence` log lines written from here on (one per presence step). */
function presenceLog(): () => { what: string; ops: OpCounts; posts?: number; joins?: number; leaves?: number }[] {
  const before = t.telemetry.lines.length;
  return () =>
    t.telemetry.lines
      .slice(before)
      .filter((l) => l.message === 'presence')
      .map((l) => l.extra as never);
}

async function presence(connectionId: string, channel: string): Promise<Record<string, unknown>> {
  const frames = watch(connectionId);
  await send(connectionId, { action: 'presence', channel, id: 'p' });
  return frames().find((f) => f.id === 'p') as Record<string, unknown>;
}

describe('join and leave', () => {
  test('first connection joins, a second is no join; one of two leaving is no leave, the last is; every subscriber hears it', async () => {
    const ch = `specialist_2`;
    const admin = await connected(ADMIN);
    await send(admin, { action: 'subscribe', channel: ch });
    const toAdmin = watch(admin);

    const tab = await connected(BEN);
    const toTab = watch(tab);
    await send(tab, { action: 'subscribe', channel: ch, id: 's' });
    // The reply comes first, then the join, to every subscriber (the joining connection included).
    expect(toTab()).toEqual([
      { type: 'subscribed', channel: ch, seq: 0, id: 's' },
      { type: 'join', channel: ch, member: member(BEN) },
    ]);
    expect(presenceFrames(toAdmin())).toEqual([{ type: 'join', channel: ch, member: member(BEN) }]);

    const phone = await connected(BEN, ch); // a second device, subscribed in its handshake: no join
    await send(tab, { action: 'subscribe', channel: ch }); // a repeated subscribe: no join either
    expect(presenceFrames(toAdmin())).toHaveLength(1);
    expect(await presence(admin, ch)).toEqual({
      type: 'presence',
      channel: ch,
      members: [member(ADMIN), member(BEN)],
      occupancy: 3,
      id: 'p',
    });

    await send(tab, { action: 'unsubscribe', channel: ch }); // one of two: no leave
    expect(presenceFrames(toAdmin())).toHaveLength(1);
    expect((await disconnect(wsEvent('$disconnect', phone))).statusCode).toBe(200); // the last: leave
    expect(presenceFrames(toAdmin())).toEqual([
      { type: 'join', channel: ch, member: member(BEN) },
      { type: 'leave', channel: ch, member: member(BEN) },
    ]);
    expect(presenceFrames(toTab())).toEqual([{ type: 'join', channel: ch, member: member(BEN) }]); // unsubscribed: hears no more
    expect(await presence(admin, ch)).toMatchObject({ members: [member(ADMIN)], occupancy: 1 });
  });

  test('a connection that answered 410 is removed by the clean-up and its user leaves', async () => {
    const ch = 'workpoint_5';
    const admin = await connected(ADMIN, ch);
    const sup = await connected(SUPERVISOR, ch);
    const toAdmin = watch(admin);
    expect(await presence(admin, ch)).toMatchObject({ members: [member(ADMIN), member(SUPERVISOR)], occupancy: 2 });
    t.mgmt.gone.add(sup);
    expect(await removeGone(t.rt, [sup])).toBe(1);
    expect(presenceFrames(toAdmin())).toEqual([{ type: 'leave', channel: ch, member: member(SUPERVISOR) }]);
  });

  test('a leave frame answered 410 by another gone connection removes that one too (and its user leaves)', async () => {
    const ch = 'specialist_31';
    const [admin, a, b] = [
      await connected(ADMIN, ch),
      await connected({ ...BEN, sub: 'x-a', specialist_id: 31 }, ch),
      await connected({ ...BEN, sub: 'x-b', specialist_id: 31 }, ch),
    ];
    t.clock.advance(20_000); // their $connect-time subscriptions are not fresh any more
    const toAdmin = watch(admin);
    t.mgmt.gone.add(a);
    t.mgmt.gone.add(b);
    await disconnect(wsEvent('$disconnect', a));
    expect(presenceFrames(toAdmin()).map((f) => `${String(f.type)} ${(f.member as { sub: string }).sub}`)).toEqual([
      'leave x-a',
      'leave x-b',
    ]);
    expect(await presence(admin, ch)).toMatchObject({ members: [member(ADMIN)], occupancy: 1 });
  });
});

describe('presence requests', () => {
  test('forbidden unless the connection may subscribe; bad_request when presence is off; invalid names; ids echoed', async () => {
    const ben = await connected({ ...BEN, specialist_id: 2000 });
    const ask = async (frame: Record<string, unknown>) => {
      const frames = watch(ben);
      await send(ben, frame);
      return frames();
    };
    expect(await ask({ action: 'presence', channel: 'admin', id: 'a' })).toEqual([
      { type: 'error', code: 'forbidden', message: 'not allowed to subscribe to "admin"', id: 'a' },
    ]);
    expect(await ask({ action: 'presence', channel: 'public_lobby', id: 'b' })).toEqual([
      { type: 'error', code: 'bad_request', message: 'presence is off for "public_lobby"', id: 'b' },
    ]);
    expect(await ask({ action: 'presence', channel: 'user_spec-2' })).toEqual([
      { type: 'error', code: 'bad_request', message: 'presence is off for "user_spec-2"' },
    ]);
    expect((await ask({ action: 'presence', channel: 'bad name' }))[0]).toMatchObject({
      type: 'error',
      code: 'bad_request',
    });
    expect((await ask({ action: 'presence' }))[0]).toMatchObject({ type: 'error', code: 'bad_request' });
    // Allowed and on, even without being subscribed: an empty list.
    expect(await ask({ action: 'presence', channel: 'specialist_2000', id: 'c' })).toEqual([
      { type: 'presence', channel: 'specialist_2000', members: [], occupancy: 0, id: 'c' },
    ]);
  });

  test('GET /presence: 200 with the body of the presence frame; 403 without access; 400 when off; 401 without a token', async () => {
    const ch = 'specialist_41';
    await connected({ ...BEN, specialist_id: 41 }, ch);
    const get = async (claims: TokenClaims | undefined, channel: string) => {
      const headers = claims
        ? { authorization: `Bearer ${await signToken(claims, { nowMs: t.clock.now() })}` }
        : undefined;
      const r = await http(httpEvent('GET', '/presence', { query: { channel }, headers }));
      return { status: r.statusCode, body: JSON.parse(r.body ?? 'null') as unknown };
    };
    expect(await get(ADMIN, ch)).toEqual({
      status: 200,
      body: { type: 'presence', channel: ch, members: [member(BEN)], occupancy: 1 },
    });
    expect(await get(SUPERVISOR, ch)).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect(await get(ADMIN, 'public_lobby')).toMatchObject({
      status: 400,
      body: { error: { code: 'bad_request', message: 'presence is off for "public_lobby"' } },
    });
    expect(await get(undefined, ch)).toMatchObject({ status: 401 });
    const noChannel = await http(
      httpEvent('GET', '/presence', { headers: { authorization: `Bearer ${await signToken(ADMIN)}` } }),
    );
    expect(noChannel.statusCode).toBe(400);
  });
});

describe('what a join and a leave cost', () => {
  test('DynamoDB operations and posts per join and per leave, with 3 other subscribers', async () => {
    const ch = 'specialist_77';
    for (let i = 0; i < 3; i++) await connected({ sub: `watcher-${i}`, role: 'admin' }, ch);
    const spec = { ...BEN, sub: 'spec-77', specialist_id: 77 };
    const first = await connected(spec);
    const second = await connected(spec);

    let log = presenceLog();
    await send(first, { action: 'subscribe', channel: ch });
    const join = log();
    log = presenceLog();
    await send(second, { action: 'subscribe', channel: ch });
    const noJoin = log();
    log = presenceLog();
    await send(second, { action: 'unsubscribe', channel: ch });
    const noLeave = log();
    log = presenceLog();
    await send(first, { action: 'unsubscribe', channel: ch });
    const leaveByUnsubscribe = log();
    await send(first, { action: 'subscribe', channel: ch });
    log = presenceLog();
    await disconnect(wsEvent('$disconnect', first));
    const leaveByDisconnect = log();
    const ping = await connected({ sub: 'pinger', role: 'admin' }, ch);
    log = presenceLog();
    await send(ping, { action: 'ping' });
    const heartbeat = log();

    const summary = (lines: ReturnType<ReturnType<typeof presenceLog>>) =>
      lines.map(({ what, ops, posts, joins, leaves }) => ({
        what,
        get: ops.getRequests,
        update: ops.updateRequests,
        query: ops.queryPages,
        other: ops.putRequests + ops.deleteRequests + ops.batchRequests + ops.transactRequests,
        posts: posts ?? 0,
        joins: joins ?? 0,
        leaves: leaves ?? 0,
      }));
    // Join: add (UpdateItem) + recheck of the subscription (GetItem, consistent) + the subscribers (Query) + a post to each (the 3 watchers and the joining connection).
    expect(summary(join)).toEqual([
      { what: 'subscribe', get: 1, update: 1, query: 1, other: 0, posts: 4, joins: 1, leaves: 0 },
    ]);
    expect(summary(noJoin)).toEqual([
      { what: 'subscribe', get: 1, update: 1, query: 0, other: 0, posts: 0, joins: 0, leaves: 0 },
    ]);
    // Leave on unsubscribe: who the connection is (GetItem) + remove (UpdateItem) + Query + a post to each remaining subscriber.
    expect(summary(noLeave)).toEqual([
      { what: 'unsubscribe', get: 1, update: 1, query: 0, other: 0, posts: 0, joins: 0, leaves: 0 },
    ]);
    expect(summary(leaveByUnsubscribe)).toEqual([
      { what: 'unsubscribe', get: 1, update: 1, query: 1, other: 0, posts: 3, joins: 0, leaves: 1 },
    ]);
    // Leave on $disconnect: the identity comes with the deleted connection record, so only remove + Query + posts.
    expect(summary(leaveByDisconnect)).toEqual([
      { what: 'disconnect', get: 0, update: 1, query: 1, other: 0, posts: 3, joins: 0, leaves: 1 },
    ]);
    // A ping on a presence channel: refresh (UpdateItem) + the sweep's read of the members (Query).
    expect(summary(heartbeat)).toEqual([
      { what: 'ping', get: 0, update: 1, query: 1, other: 0, posts: 0, joins: 0, leaves: 0 },
    ]);
    const units = [...join, ...leaveByDisconnect].map(
      ({ what, ops }) => `${what}: ${ops.readUnits} RCU, ${ops.writeUnits} WCU`,
    );
    process.stdout.write(`presence costs on DynamoDB Local: ${units.join('; ')}\n`);
  });
});
