import { ChannelStore } from '../../shared/store/channels';
import { ConnectionStore } from '../../shared/store/connections';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '../../shared/store/keys';
import { addStats, readStats, STATS_SHARDS } from '../../shared/store/stats';
import { record } from '../helpers/record';
import { testRuntime, type TestRuntime } from '../helpers/runtime';

let t: TestRuntime;
beforeAll(async () => {
  t = await testRuntime({ retainEvents: 5, retainSeconds: 60 });
});
afterAll(() => t.stop());

const identity = { sub: 'u1', role: 'admin', exp: 4_000_000_000 };

describe('channel versions', () => {
  test('concurrent bumps give every publish its own seq, rising by exactly 1', async () => {
    const channels = new ChannelStore(t.rt.db, t.rt.config);
    const seqs = await Promise.all(Array.from({ length: 40 }, () => channels.bump('atomic', t.clock.now())));
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(await channels.seq('atomic')).toBe(40);
    expect(await channels.seq('never-published')).toBe(0);
    expect(await channels.seqs(['atomic', 'never-published'])).toEqual({ atomic: 40, 'never-published': 0 });
  });
});

describe('history and replay', () => {
  const publish = (channel: string, n: number) =>
    record(t.rt.db, t.rt.config, { channels: [channel], event: 'e', data: { n }, id: `${channel}-${n}` });

  test('replay returns events after since, in order', async () => {
    for (let n = 1; n <= 4; n++) await publish('replay', n);
    const channels = new ChannelStore(t.rt.db, t.rt.config);
    const h = await channels.history('replay', 1);
    expect(h.reset).toBe(false);
    expect(h.events.map((e) => e.seq)).toEqual([2, 3, 4]);
    expect(h.events.map((e) => e.data)).toEqual([{ n: 2 }, { n: 3 }, { n: 4 }]);
    expect(await channels.history('replay', 4)).toEqual({ reset: false, events: [], seq: 4 });
  });

  test('trimmed by count: history older than the last N is a reset', async () => {
    for (let n = 1; n <= 8; n++) await publish('count', n);
    const channels = new ChannelStore(t.rt.db, t.rt.config);
    expect((await channels.history('count', 3)).events.map((e) => e.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(await channels.history('count', 2)).toMatchObject({ reset: true, events: [], seq: 8 });
    expect(await channels.retainedCount('count', 8)).toBe(5);
  });

  test('trimmed by age: events older than the window are gone; a partly expired window is a reset', async () => {
    await publish('age', 1);
    await publish('age', 2);
    t.clock.advance(40_000);
    await publish('age', 3);
    const channels = new ChannelStore(t.rt.db, t.rt.config);
    expect((await channels.history('age', 0)).events.map((e) => e.seq)).toEqual([1, 2, 3]);
    t.clock.advance(30_000); // events 1 and 2 are now 70 s old, event 3 is 30 s old
    expect(await channels.history('age', 0)).toMatchObject({ reset: true });
    expect((await channels.history('age', 2)).events.map((e) => e.seq)).toEqual([3]);
    expect(await channels.retainedCount('age', 3)).toBe(1);
  });

  test('since ahead of the channel is a reset', async () => {
    await publish('ahead', 1);
    expect(await new ChannelStore(t.rt.db, t.rt.config).history('ahead', 7)).toMatchObject({ reset: true, seq: 1 });
  });

  test('arbitrary JSON data round-trips exactly', async () => {
    const data = { empty: {}, list: [], n: 1.5, big: 12345678901234, s: 'é', nested: { a: [null, true] } };
    await record(t.rt.db, t.rt.config, { channels: ['json'], event: 'e', data, id: 'json-1' });
    expect((await new ChannelStore(t.rt.db, t.rt.config).history('json', 0)).events[0]?.data).toEqual(data);
  });
});

describe('connections and subscriptions', () => {
  test('subscribe, limit, unsubscribe and removal keep the subscriber index and counters right', async () => {
    const store = new ConnectionStore(t.rt.db, 3600);
    const before = await readStats(t.rt.db);
    await store.create('conn-a', identity, ['ch-1']);
    expect(await store.subscribe('conn-a', 'ch-2', 3)).toBe('subscribed');
    expect(await store.subscribe('conn-a', 'ch-2', 3)).toBe('already');
    expect(await store.subscribe('conn-a', 'ch-3', 3)).toBe('subscribed');
    expect(await store.subscribe('conn-a', 'ch-4', 3)).toBe('limit');
    expect(await store.subscribe('no-such-conn', 'ch-1', 3)).toBe('gone');
    expect(await store.countSubscribers('ch-2')).toBe(1);
    expect(await store.unsubscribe('conn-a', 'ch-2')).toBe(true);
    expect(await store.unsubscribe('conn-a', 'ch-2')).toBe(false);
    expect(await store.countSubscribers('ch-2')).toBe(0);
    expect(await store.subscribe('conn-a', 'ch-4', 3)).toBe('subscribed'); // a slot was freed
    const mid = await readStats(t.rt.db);
    expect(mid.connections - before.connections).toBe(1);
    expect(mid.subscriptions - before.subscriptions).toBe(3);

    expect(await store.remove('conn-a')).toEqual({
      existed: true,
      subscriptions: 3,
      channels: ['ch-1', 'ch-3', 'ch-4'],
      identity,
    });
    expect(await store.remove('conn-a')).toEqual({ existed: false, subscriptions: 0, channels: [] });
    expect(await store.get('conn-a')).toBeUndefined();
    for (const ch of ['ch-1', 'ch-3', 'ch-4']) expect(await store.countSubscribers(ch)).toBe(0);
    const after = await readStats(t.rt.db);
    expect(after.connections).toBe(before.connections);
    expect(after.subscriptions).toBe(before.subscriptions);
  });

  test('subscriber pages cover every subscriber', async () => {
    const store = new ConnectionStore(t.rt.db, 3600);
    await Promise.all(Array.from({ length: 23 }, (_, i) => store.create(`page-${i}`, identity, ['paged'])));
    const pages: string[][] = [];
    for await (const page of store.subscriberPages('paged', 10)) pages.push(page.map((s) => s.connectionId));
    expect(pages.map((p) => p.length)).toEqual([10, 10, 3]);
    expect(new Set(pages.flat()).size).toBe(23);
  });
});

describe('sharded /stats counters', () => {
  test('adds land on different shards and readStats sums every shard (and a pre-sharding item)', async () => {
    const own = await testRuntime({});
    try {
      const db = own.rt.db;
      let i = 0;
      const shardPicker = () => (i++ % STATS_SHARDS) / STATS_SHARDS;
      for (let n = 0; n < STATS_SHARDS * 2; n++) await addStats(db, { published: 1, delivered: 3 }, shardPicker);
      await db.doc.send(
        new PutCommand({
          TableName: db.tableName,
          Item: { pk: keys.statsPk(), sk: 'global', published: 5, connections: 2 },
        }),
      );
      const items = await db.doc.send(
        new QueryCommand({
          TableName: db.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.statsPk() },
        }),
      );
      expect(items.Items).toHaveLength(STATS_SHARDS + 1);
      expect(await readStats(db)).toEqual({
        connections: 2,
        subscriptions: 0,
        channels: 0,
        published: STATS_SHARDS * 2 + 5,
        delivered: STATS_SHARDS * 6,
      });
    } finally {
      await own.stop();
    }
  });
});

test('op counts: a BatchGet is reads, a transaction writes (DynamoDB Local reports only a total)', async () => {
  const { EventLog } = await import('../../shared/store/event-log');
  await t.rt.db.doc.send(
    new PutCommand({ TableName: t.rt.db.tableName, Item: { ...keys.version('units_c'), seq: 3 } }),
  );
  const db = t.rt.db.withCounts();
  await new EventLog(db, t.rt.config).snapshot(['units-1', 'units-2'], ['units_c']);
  expect(db.counts.batchRequests).toBe(1);
  expect(db.counts.writeUnits).toBe(0);
  expect(db.counts.readUnits).toBeGreaterThan(0);
});

test('removals racing on one connection ($disconnect and 410 cleanups) count it gone once', async () => {
  const store = new ConnectionStore(t.rt.db, 3600);
  const racer = { ...identity, sub: 'racer' };
  await store.create('race-keep', racer, []); // keeps the gauge above 0 (it never reads below 0)
  await store.create('race-gone', racer, ['specialist_9']);
  const before = await readStats(t.rt.db);
  const results = await Promise.all([1, 2, 3, 4].map(() => store.remove('race-gone')));
  expect(results.filter((r) => r.existed)).toHaveLength(1);
  const after = await readStats(t.rt.db);
  expect(before.connections - after.connections).toBe(1);
  expect(before.subscriptions - after.subscriptions).toBe(1);
});
