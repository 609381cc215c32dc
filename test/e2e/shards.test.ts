import type { RuntimeEvent } from '../../local/runtime';
import { signToken } from '../helpers/runtime';
import { startRuntimeProcess, type RuntimeProcess } from './support/runtime-process';
import { Publisher, TestClient, uniqueId, type Frame } from './support/ws-client';

/**
 * The sharded path end to end (`npm start`'s runtime): with SWITCHBOARD_SHARD_SIZE=2 and 3 lanes, an
 * event to a handful of connections already splits into several lane messages (shards), delivered by
 * separate `deliver` invocations. Under concurrent publishes to two overlapping channels, every
 * connection still gets every event exactly once, each channel's in seq order.
 */
jest.setTimeout(120_000);

const SHARD_SIZE = 2;
const LANES = 3;
const EVENTS = 24;
let rt: RuntimeProcess;
let pub: Publisher;
const clients: TestClient[] = [];

beforeAll(async () => {
  rt = await startRuntimeProcess({
    SWITCHBOARD_SHARD_SIZE: String(SHARD_SIZE),
    SWITCHBOARD_DELIVERY_LANES: String(LANES),
  });
  pub = new Publisher(rt.endpoints);
}, 90_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  pub?.destroy();
  await rt?.stop();
});

const laneMessagesOf = (id: string) =>
  rt.events
    .filter((e): e is Extract<RuntimeEvent, { type: 'delivered' }> => e.type === 'delivered')
    .reduce((n, e) => n + e.ids.filter((x) => x === id).length, 0);

test('every connection gets every event once, per channel in seq order, across shards and lanes', async () => {
  const u = uniqueId();
  const a = `public_shard_a_${u}`;
  const b = `public_shard_b_${u}`;
  // 4 on a, 3 on b, 3 on both: 10 connections, 7 per channel (shards of 2 over 3 lanes).
  const plan = [...Array<string[]>(4).fill([a]), ...Array<string[]>(3).fill([b]), ...Array<string[]>(3).fill([a, b])];
  const token = await signToken({ sub: 'shard-reader' });
  for (const channels of plan)
    clients.push(await TestClient.connect(rt.endpoints.websocketUrl, token, { channels: channels.join(',') }));

  // Concurrent publishes: to a, to b and to both, interleaved.
  const targets = Array.from({ length: EVENTS }, (_, i) => [[a], [b], [a, b]][i % 3] as string[]);
  const published = await Promise.all(
    targets.map((channels, i) => pub.publish(channels, 'tick', { i }, `shard-${u}-${i}`)),
  );
  // A fence to both channels after all of them: per-connection order puts it last on every connection.
  await Promise.all(
    published.map(({ id }) =>
      rt.waitForEvent((e) => e.type === 'sequenced' && e.ids.includes(id), 30_000, `sequencing of ${id}`),
    ),
  );
  const fence = await pub.publish([a, b], 'fence', {}, `shard-${u}-fence`);

  const expectedIds = (channels: string[]) =>
    published.filter((_, i) => (targets[i] as string[]).some((c) => channels.includes(c))).map((p) => p.id);
  for (const [k, client] of clients.entries()) {
    const channels = plan[k] as string[];
    const frames: Frame[] = [];
    for (;;) {
      const f = await client.nextEvent(undefined, 30_000);
      if (f.id === fence.id) break;
      frames.push(f);
    }
    // Exactly once: each expected event, no other, no repeat.
    expect({ k, ids: frames.map((f) => f.id).sort() }).toEqual({ k, ids: expectedIds(channels).sort() });
    // Per channel: seqs 1, 2, 3... in arrival order, with no gap.
    for (const c of channels) {
      const seqs = frames.map((f) => (f.seqs as Record<string, number>)[c]).filter((s): s is number => s !== undefined);
      expect({ k, c, seqs }).toEqual({ k, c, seqs: Array.from({ length: seqs.length }, (_, i) => i + 1) });
    }
    // A connection on both channels got one frame per event, naming both seqs when the event had both.
    for (const f of frames)
      expect(Object.keys(f.seqs as object).sort()).toEqual(
        channels.filter((c) => targets[published.findIndex((p) => p.id === f.id)]?.includes(c)).sort(),
      );
  }
  // And it was sharded: the event to both channels (10 connections) went out in at least 5 lane messages.
  const both = published[2]?.id as string;
  await rt.waitForEvent(
    () => laneMessagesOf(both) >= Math.ceil(10 / SHARD_SIZE),
    30_000,
    `${both} delivered in shards`,
  );
});
