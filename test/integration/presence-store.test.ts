import { ChannelPolicy } from '../../shared/channel-rules';
import { Presence } from '../../shared/presence';
import { ConnectionStore } from '../../shared/store/connections';
import { MAX_MEMBERS, PresenceStore, type Member } from '../../shared/store/presence';
import { testRuntime, type TestRuntime } from '../helpers/runtime';

/**
 * The presence membership store (shared/store/presence.ts) and the Presence steps (shared/presence.ts)
 * against DynamoDB Local: first join / last leave, idempotence, concurrency, expiry and sweeps.
 */
let t: TestRuntime;
let store: PresenceStore;
beforeAll(async () => {
  t = await testRuntime({ presenceTtlSeconds: 60 });
  store = new PresenceStore(t.rt.db, t.rt.config);
});
afterAll(() => t.stop());

let n = 0;
const channel = () => `specialist_${++n}`;
const ben: Member = { sub: 'spec-2', role: 'specialist', name: 'Dr. Ben Okafor' };
const ana: Member = { sub: 'spec-1', role: 'specialist' };

describe('first join, last leave', () => {
  test("a user's first connection is the join, the second is none; one of two leaving is no leave, the last is", async () => {
    const c = channel();
    expect(await store.add(c, ben, 'conn-1')).toBe(true);
    expect(await store.add(c, ben, 'conn-2')).toBe(false);
    expect(await store.add(c, ana, 'conn-3')).toBe(true);
    expect(await store.snapshot(c, { sweep: true })).toEqual({ members: [ana, ben], occupancy: 3, left: [] });
    expect(await store.remove(c, ben.sub, 'conn-1')).toBeUndefined();
    expect(await store.remove(c, ben.sub, 'conn-2')).toEqual(ben);
    expect(await store.snapshot(c, { sweep: true })).toEqual({ members: [ana], occupancy: 1, left: [] });
    // Back again: a join again.
    expect(await store.add(c, ben, 'conn-4')).toBe(true);
  });

  test('repeats are no-ops: a connection added twice is one entry; removed twice (or never added) is no second leave', async () => {
    const c = channel();
    expect(await store.add(c, ben, 'conn-1')).toBe(true);
    expect(await store.add(c, ben, 'conn-1')).toBe(false);
    expect((await store.snapshot(c, { sweep: false })).occupancy).toBe(1);
    expect(await store.remove(c, ben.sub, 'conn-1')).toEqual(ben);
    expect(await store.remove(c, ben.sub, 'conn-1')).toBeUndefined();
    expect(await store.remove(c, ben.sub, 'never')).toBeUndefined();
    expect(await store.remove(c, 'nobody', 'never')).toBeUndefined();
    expect(await store.snapshot(c, { sweep: true })).toEqual({ members: [], occupancy: 0, left: [] });
  });

  test('the member shown is the one of the latest connection (a new token may carry a new name)', async () => {
    const c = channel();
    await store.add(c, ben, 'conn-1');
    await store.add(c, { ...ben, name: 'Ben' }, 'conn-2');
    expect((await store.snapshot(c, { sweep: false })).members).toEqual([{ ...ben, name: 'Ben' }]);
  });
});

describe('concurrency: DynamoDB orders the writes of one user on a channel', () => {
  test('30 connections of one user subscribing at once: one join; all leaving at once: one leave', async () => {
    const c = channel();
    const ids = Array.from({ length: 30 }, (_, i) => `conn-${i}`);
    const joins = await Promise.all(ids.map((id) => store.add(c, ben, id)));
    expect(joins.filter(Boolean)).toHaveLength(1);
    expect(await store.snapshot(c, { sweep: false })).toMatchObject({ members: [ben], occupancy: 30 });
    const leaves = await Promise.all(ids.map((id) => store.remove(c, ben.sub, id)));
    expect(leaves.filter(Boolean)).toHaveLength(1);
    expect((await store.snapshot(c, { sweep: false })).members).toEqual([]);
  });

  test('adds, removes and double removes of one user interleaved at random: joins and leaves balance, the state ends empty', async () => {
    const c = channel();
    let joins = 0;
    let leaves = 0;
    // Each connection is added, then removed (by its disconnect and, at the same time, a 410 clean-up).
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const id = `conn-${i}`;
        await new Promise((r) => setTimeout(r, Math.random() * 50));
        if (await store.add(c, ben, id)) joins++;
        await new Promise((r) => setTimeout(r, Math.random() * 50));
        const both = await Promise.all([store.remove(c, ben.sub, id), store.remove(c, ben.sub, id)]);
        leaves += both.filter(Boolean).length;
      }),
    );
    expect(joins).toBeGreaterThanOrEqual(1);
    expect(leaves).toBe(joins);
    expect(await store.snapshot(c, { sweep: true })).toEqual({ members: [], occupancy: 0, left: [] });
  });

  test('20 users at once, each with two connections: one join and one leave each', async () => {
    const c = channel();
    const users = Array.from({ length: 20 }, (_, i): Member => ({
      sub: `user-${String(i).padStart(2, '0')}`,
      role: 'specialist',
    }));
    const added = await Promise.all(
      users.flatMap((u) => [store.add(c, u, `${u.sub}-a`), store.add(c, u, `${u.sub}-b`)]),
    );
    expect(added.filter(Boolean)).toHaveLength(20);
    expect(await store.snapshot(c, { sweep: false })).toEqual({ members: users, occupancy: 40, left: [] });
    const left = await Promise.all(
      users.flatMap((u) => [store.remove(c, u.sub, `${u.sub}-a`), store.remove(c, u.sub, `${u.sub}-b`)]),
    );
    expect(
      left
        .filter(Boolean)
        .map((m) => (m as Member).sub)
        .sort(),
    ).toEqual(users.map((u) => u.sub));
  });
});

describe('expiry: a connection whose $disconnect never came', () => {
  test('past its time it is left out by a read-only snapshot, and a sweep removes it with the leave, once', async () => {
    const c = channel();
    await store.add(c, ben, 'vanished');
    await store.add(c, ana, 'ana-1');
    t.clock.advance(30_000);
    await store.refresh(c, ana.sub, 'ana-1'); // Ana pings; Ben's connection does not
    t.clock.advance(31_000);
    expect(await store.snapshot(c, { sweep: false })).toEqual({ members: [ana], occupancy: 1, left: [] });
    expect(await store.snapshot(c, { sweep: true })).toEqual({ members: [ana], occupancy: 1, left: [ben] });
    expect(await store.snapshot(c, { sweep: true })).toEqual({ members: [ana], occupancy: 1, left: [] });
    // The swept connection has no entry any more: its refresh says so.
    expect(await store.refresh(c, ben.sub, 'vanished')).toBe(false);
  });

  test('an expired connection of a user who has another live one is swept without a leave', async () => {
    const c = channel();
    await store.add(c, ben, 'old-tab');
    t.clock.advance(59_000);
    await store.add(c, ben, 'new-device');
    t.clock.advance(2_000);
    expect(await store.snapshot(c, { sweep: true })).toEqual({ members: [ben], occupancy: 1, left: [] });
  });

  test('a sweep never removes a connection refreshed after it was read', async () => {
    const c = channel();
    await store.add(c, ben, 'conn-1');
    t.clock.advance(61_000);
    const [stale] = await store.entries(c);
    await store.refresh(c, ben.sub, 'conn-1'); // the ping lands between the read and the sweep
    const swept = await store.sweep(c, stale!, t.clock.now());
    expect(swept.left).toBeUndefined();
    expect([...(swept.entry?.conns.keys() ?? [])]).toEqual(['conn-1']);
    expect((await store.snapshot(c, { sweep: true })).members).toEqual([ben]);
  });

  test('sweeps racing each other and a disconnect: exactly one leave', async () => {
    const c = channel();
    await store.add(c, ben, 'conn-1');
    await store.add(c, ben, 'conn-2');
    t.clock.advance(61_000);
    const results = await Promise.all([
      store.snapshot(c, { sweep: true }),
      store.snapshot(c, { sweep: true }),
      store.remove(c, ben.sub, 'conn-2').then((left) => ({ left: left ? [left] : [] })),
      store.snapshot(c, { sweep: true }),
    ]);
    expect(results.flatMap((r) => r.left)).toEqual([ben]);
  });
});

describe('lists', () => {
  test(`at most ${MAX_MEMBERS} members; users without connections are not listed`, async () => {
    expect(MAX_MEMBERS).toBe(1000);
    const c = channel();
    for (const sub of ['a', 'b', 'c', 'd']) await store.add(c, { sub }, `conn-${sub}`);
    await store.remove(c, 'b', 'conn-b');
    expect((await store.entries(c, { limit: 2 })).map((e) => e.member.sub)).toEqual(['a', 'c']);
    expect((await store.entries(c)).map((e) => e.member.sub)).toEqual(['a', 'c', 'd']);
  });
});

describe('Presence steps', () => {
  const policy = new ChannelPolicy();
  const identity = { sub: 'spec-2', role: 'specialist', specialistId: '2', name: 'Dr. Ben Okafor', exp: 4_000_000_000 };
  const deps = () => ({ db: t.rt.db, policy, config: t.rt.config });

  test('only channels with presence are touched', async () => {
    const p = new Presence(deps());
    expect(await p.joined('conn-x', identity, ['public_lobby', 'user_spec-2'], { recheck: false })).toEqual([]);
    expect(p.ops.updateRequests).toBe(0);
  });

  test('a subscribe overtaken by an unsubscribe (its subscription already gone) is undone: join then leave', async () => {
    const c = `specialist_${++n}`;
    const p = new Presence(deps());
    expect(await p.joined('not-subscribed', identity, [c], { recheck: true })).toEqual([
      { type: 'join', channel: c, member: { sub: 'spec-2', role: 'specialist', name: 'Dr. Ben Okafor' } },
      { type: 'leave', channel: c, member: { sub: 'spec-2', role: 'specialist', name: 'Dr. Ben Okafor' } },
    ]);
    expect((await store.snapshot(c, { sweep: false })).members).toEqual([]);
  });

  test('a ping pushes the entry forward; an entry swept while its connection lived is added again (a join)', async () => {
    const c = `specialist_${++n}`;
    const connections = new ConnectionStore(t.rt.db, 3600);
    await connections.create('pinger', identity, [c]);
    expect(await new Presence(deps()).joined('pinger', identity, [c], { recheck: true })).toHaveLength(1);
    t.clock.advance(50_000);
    expect(await new Presence(deps()).heartbeat('pinger', identity, [c])).toEqual([]);
    t.clock.advance(50_000); // 100 s after the subscribe, 50 s after the ping: still there
    expect((await store.snapshot(c, { sweep: true })).left).toEqual([]);
    t.clock.advance(61_000); // frozen past its time: swept
    expect((await store.snapshot(c, { sweep: true })).left).toHaveLength(1);
    const back = await new Presence(deps()).heartbeat('pinger', identity, [c]);
    expect(back.map((ch) => ch.type)).toEqual(['join']);
    expect((await store.snapshot(c, { sweep: false })).members.map((m) => m.sub)).toEqual(['spec-2']);
  });

  test("a ping sweeps its channel: another user's expired connection leaves", async () => {
    const c = `specialist_${++n}`;
    const connections = new ConnectionStore(t.rt.db, 3600);
    await connections.create('live', identity, [c]);
    await new Presence(deps()).joined('live', identity, [c], { recheck: false });
    await store.add(c, ana, 'ana-vanished');
    t.clock.advance(61_000);
    expect(await new Presence(deps()).heartbeat('live', identity, [c])).toEqual([
      { type: 'leave', channel: c, member: ana },
    ]);
  });
});

describe('a list that would not fit in one post', () => {
  test('members with very long subs and names are cut so the frame stays under 128 KB', async () => {
    const deps = { db: t.rt.db, policy: new ChannelPolicy(), config: t.rt.config };
    const c = channel();
    const long = (i: number): Member => ({
      sub: `${String(i).padStart(4, '0')}-${'s'.repeat(250)}`,
      role: 'admin',
      name: 'n'.repeat(128),
    });
    await Promise.all(Array.from({ length: 400 }, (_, i) => store.add(c, long(i), `conn-${i}`)));
    const { members, occupancy } = await new Presence(deps).read(c, false);
    expect(occupancy).toBe(400);
    expect(members.length).toBeLessThan(400);
    expect(members.length).toBeGreaterThan(250);
    expect(Buffer.byteLength(JSON.stringify({ type: 'presence', channel: c, members, occupancy }))).toBeLessThan(
      128 * 1024,
    );
    expect(members.map((m) => m.sub)).toEqual(Array.from({ length: members.length }, (_, i) => long(i).sub));
  });
});
