import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { laneEventId, parseLaneMessage } from '../../shared/lanes';
import { SeqCache, sequence, type OrderedMessage } from '../../shared/sequencer';
import { sqsFor } from '../../shared/sqs-client';
import { ChannelStore } from '../../shared/store/channels';
import { ConnectionStore } from '../../shared/store/connections';
import { SnapshotStaleError } from '../../shared/store/event-log';
import { fifoQueue, testRuntime, type TestRuntime } from '../helpers/runtime';

/**
 * The sequencer's idempotency state machine and seq assignment, against DynamoDB Local and the SQS
 * emulator: a record names the order-queue message that took its seqs; that message coming back
 * (a retry after a crash) reuses them, any other message with the id is a duplicate, and a failure
 * after the record was written leaves neither a hole nor a second seq.
 */
let t: TestRuntime;
let deliveryQueueUrl: string;
beforeAll(async () => {
  t = await testRuntime();
  deliveryQueueUrl = await fifoQueue(t, 'seq');
});
afterAll(() => t.stop());

const deps = (overrides: { deliveryQueueUrl?: string; seqCache?: SeqCache } = {}) => ({
  db: t.rt.db,
  sqs: sqsFor(t.rt),
  log: t.telemetry,
  seqCache: overrides.seqCache,
  config: { ...t.rt.config, deliveryQueueUrl, ...overrides },
});
const msg = (messageId: string, id: string, channels: string[], data: unknown = null): OrderedMessage => ({
  messageId,
  event: { id, channels, event: 'e', data },
});

async function laneBodies(): Promise<string[]> {
  const r = await sqsFor(t.rt).send(
    new ReceiveMessageCommand({ QueueUrl: deliveryQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
  );
  return (r.Messages ?? []).map((m) => m.Body ?? '');
}

describe('sequencer', () => {
  test('new events take the next seqs per channel, in batch order, with history for each', async () => {
    const r = await sequence(deps(), [
      msg('m1', 'a1', ['sq_a', 'sq_b']),
      msg('m2', 'a2', ['sq_b']),
      msg('m3', 'a3', ['sq_a']),
    ]);
    expect(r).toMatchObject({ recorded: 3, retried: 0, duplicates: 0 });
    expect(r.seqs).toEqual({ a1: { sq_a: 1, sq_b: 1 }, a2: { sq_b: 2 }, a3: { sq_a: 2 } });
    const channels = new ChannelStore(t.rt.db, t.rt.config);
    expect((await channels.history('sq_a', 0)).events.map((e) => [e.seq, e.id])).toEqual([
      [1, 'a1'],
      [2, 'a3'],
    ]);
    expect((await channels.history('sq_b', 0)).events.map((e) => [e.seq, e.id])).toEqual([
      [1, 'a1'],
      [2, 'a2'],
    ]);
  });

  test('the same message again (a retry) reuses its seqs; another message with the id is a duplicate', async () => {
    const first = await sequence(deps(), [msg('r1', 'rid', ['sq_r'])]);
    expect(first.seqs.rid).toEqual({ sq_r: 1 });
    const retry = await sequence(deps(), [msg('r1', 'rid', ['sq_r'])]);
    expect(retry).toMatchObject({ recorded: 0, retried: 1, duplicates: 0, seqs: { rid: { sq_r: 1 } } });
    const dup = await sequence(deps(), [msg('r2', 'rid', ['sq_r']), msg('r3', 'next', ['sq_r'])]);
    expect(dup).toMatchObject({ recorded: 1, duplicates: 1, seqs: { next: { sq_r: 2 } } });
    expect(await new ChannelStore(t.rt.db, t.rt.config).seq('sq_r')).toBe(2);
  });

  test('two messages with one id in one batch: the first records, the second is a duplicate', async () => {
    const r = await sequence(deps(), [msg('d1', 'twice', ['sq_d']), msg('d2', 'twice', ['sq_d'])]);
    expect(r).toMatchObject({ recorded: 1, duplicates: 1, seqs: { twice: { sq_d: 1 } } });
  });

  test('a failure after recording (lanes cannot be sent): the retry reuses the seqs, no hole, no second seq', async () => {
    await new ConnectionStore(t.rt.db, 3600).create('c-fail', { sub: 'u', role: 'admin', exp: 4e9 }, ['sq_f']);
    const broken = deps({ deliveryQueueUrl: `${deliveryQueueUrl}-missing.fifo` });
    await expect(sequence(broken, [msg('f1', 'fid', ['sq_f'])])).rejects.toThrow();
    // The record, its seq and its history are in; nothing was handed to the lanes.
    expect(await new ChannelStore(t.rt.db, t.rt.config).seq('sq_f')).toBe(1);
    const retry = await sequence(deps(), [msg('f1', 'fid', ['sq_f']), msg('f2', 'fid2', ['sq_f'])]);
    expect(retry).toMatchObject({ recorded: 1, retried: 1, seqs: { fid: { sq_f: 1 }, fid2: { sq_f: 2 } } });
    const lanes = (await laneBodies()).map((b) => parseLaneMessage(b));
    const forConn = lanes.flatMap((l) => l?.events ?? []).filter((e) => e.targets.some(([c]) => c === 'c-fail'));
    expect(forConn.map(laneEventId)).toEqual(['fid', 'fid2']);
  });

  test('a subscribe landing while the batch commits gets the event live or in its replay, never neither', async () => {
    const store = new ConnectionStore(t.rt.db, 3600);
    await store.create('c-early', { sub: 'u', role: 'admin', exp: 4e9 }, ['sq_race']);
    await store.create('c-join', { sub: 'u', role: 'admin', exp: 4e9 }, []);
    // Just before the batch's transaction goes out, c-join subscribes as the subscribe action does:
    // the subscription first, then a read of history since 0 (what its replay would hold).
    let replayed: string[] | undefined;
    let armed = true;
    const name = 'subscribeDuringCommit';
    t.rt.db.doc.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { TransactItems?: unknown[] };
        if (input.TransactItems && armed) {
          armed = false; // the subscribe's own transaction passes
          await store.subscribe('c-join', 'sq_race', 100);
          replayed = (await new ChannelStore(t.rt.db, t.rt.config).history('sq_race', 0)).events.map((e) => e.id);
        }
        return next(args);
      },
      { step: 'initialize', name },
    );
    try {
      await sequence(deps(), [msg('r1', 'join-1', ['sq_race'])]);
    } finally {
      t.rt.db.doc.middlewareStack.remove(name);
    }
    expect(replayed).toEqual([]); // it read history before the commit
    const live = (await laneBodies())
      .map((b) => parseLaneMessage(b))
      .flatMap((l) => l?.events ?? [])
      .filter((e) => e.targets.some(([c]) => c === 'c-join'))
      .map(laneEventId);
    expect(live).toEqual(['join-1']); // so it must get the event live
  });

  test('an attempt still running past its deadline sends no lane message; the retry sends them with the same seqs', async () => {
    await new ConnectionStore(t.rt.db, 3600).create('c-late', { sub: 'u', role: 'admin', exp: 4e9 }, ['sq_l']);
    // The batch was handed back at its deadline; this attempt (a late one, e.g. thawed) goes on.
    const late = { ...deps(), deadline: t.clock.now() - 1 };
    await expect(sequence(late, [msg('l1', 'lid', ['sq_l'])])).rejects.toThrow(/out of time before lane round 0/);
    const forLate = (bodies: string[]) =>
      bodies
        .map((b) => parseLaneMessage(b))
        .flatMap((l) => l?.events ?? [])
        .filter((e) => e.targets.some(([c]) => c === 'c-late'));
    expect(forLate(await laneBodies())).toEqual([]);
    const retry = await sequence(deps(), [msg('l1', 'lid', ['sq_l'])]);
    expect(retry).toMatchObject({ recorded: 0, retried: 1, seqs: { lid: { sq_l: 1 } } });
    expect(forLate(await laneBodies()).map(laneEventId)).toEqual(['lid']);
  });

  test('a record past the idempotency window no longer blocks the id', async () => {
    const short = { ...deps(), config: { ...deps().config, idempotencySeconds: 1 } };
    await sequence(short, [msg('x1', 'old', ['sq_x'])]);
    t.clock.advance(5_000);
    try {
      const again = await sequence(short, [msg('x2', 'old', ['sq_x'])]);
      expect(again).toMatchObject({ recorded: 1, duplicates: 0, seqs: { old: { sq_x: 2 } } });
    } finally {
      t.clock.advance(-5_000);
    }
  });

  test('two sequencers racing on one channel (what the FIFO group prevents): one commits, the other is refused', async () => {
    const results = await Promise.allSettled([
      sequence(deps(), [msg('p1', 'race-1', ['sq_p'])]),
      sequence(deps(), [msg('p2', 'race-2', ['sq_p'])]),
    ]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected').map((r) => r.reason as Error);
    expect(ok.length + refused.length).toBe(2);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const err of refused) expect(err).toBeInstanceOf(SnapshotStaleError);
    // Never two events with one seq: the channel moved exactly once per committed event.
    expect(await new ChannelStore(t.rt.db, t.rt.config).seq('sq_p')).toBe(ok.length);
  });

  describe('a warm container plans from the seqs it knows (no snapshot read), checked by the transaction', () => {
    const historyIds = async (channel: string) =>
      (await new ChannelStore(t.rt.db, t.rt.config).history(channel, 0)).events.map((e) => [e.seq, e.id]);

    test('known channels: no read, the next seqs, history contiguous', async () => {
      const cache = new SeqCache();
      const first = await sequence(deps({ seqCache: cache }), [msg('w1', 'w-1', ['sq_w'])]);
      expect(first.plan).toBe('snapshot');
      const next = await sequence(deps({ seqCache: cache }), [msg('w2', 'w-2', ['sq_w']), msg('w3', 'w-3', ['sq_w'])]);
      expect(next).toMatchObject({ plan: 'cached', recorded: 2, seqs: { 'w-2': { sq_w: 2 }, 'w-3': { sq_w: 3 } } });
      expect(await historyIds('sq_w')).toEqual([
        [1, 'w-1'],
        [2, 'w-2'],
        [3, 'w-3'],
      ]);
    });

    test('a retried message and a duplicate id are refused as guesses and planned from a snapshot', async () => {
      const cache = new SeqCache();
      await sequence(deps({ seqCache: cache }), [msg('k1', 'k-1', ['sq_k'])]);
      const retry = await sequence(deps({ seqCache: cache }), [msg('k1', 'k-1', ['sq_k']), msg('k2', 'k-2', ['sq_k'])]);
      expect(retry).toMatchObject({ plan: 'cached-then-snapshot', retried: 1, recorded: 1 });
      expect(retry.seqs).toEqual({ 'k-1': { sq_k: 1 }, 'k-2': { sq_k: 2 } });
      const dup = await sequence(deps({ seqCache: cache }), [msg('k3', 'k-2', ['sq_k']), msg('k4', 'k-4', ['sq_k'])]);
      expect(dup).toMatchObject({
        plan: 'cached-then-snapshot',
        duplicates: 1,
        recorded: 1,
        seqs: { 'k-4': { sq_k: 3 } },
      });
      expect(await historyIds('sq_k')).toEqual([
        [1, 'k-1'],
        [2, 'k-2'],
        [3, 'k-4'],
      ]);
    });

    test('another container moved the seq: the stale guess writes nothing, the snapshot continues after it', async () => {
      const [a, b] = [new SeqCache(), new SeqCache()];
      await sequence(deps({ seqCache: a }), [msg('s1', 's-1', ['sq_s', 'sq_s2'])]);
      await sequence(deps({ seqCache: b }), [msg('s2', 's-2', ['sq_s']), msg('s3', 's-3', ['sq_s'])]);
      const late = await sequence(deps({ seqCache: a }), [msg('s4', 's-4', ['sq_s', 'sq_s2'])]);
      expect(late).toMatchObject({ plan: 'cached-then-snapshot', recorded: 1, seqs: { 's-4': { sq_s: 4, sq_s2: 2 } } });
      expect(await historyIds('sq_s')).toEqual([
        [1, 's-1'],
        [2, 's-2'],
        [3, 's-3'],
        [4, 's-4'],
      ]);
      expect(await historyIds('sq_s2')).toEqual([
        [1, 's-1'],
        [2, 's-4'],
      ]);
      // And it knows again: the next batch needs no read.
      expect((await sequence(deps({ seqCache: a }), [msg('s5', 's-5', ['sq_s'])])).plan).toBe('cached');
    });

    test("a batch bigger than one transaction: a refused later chunk leaves the earlier one as this message's own", async () => {
      const [a, b] = [new SeqCache(), new SeqCache()];
      await sequence(deps({ seqCache: a }), [msg('c0', 'c-0', ['sq_c1']), msg('c0b', 'c-0b', ['sq_c2'])]);
      // Another container moves sq_c2 only: the first chunk (sq_c1 events) commits, the second is refused.
      await sequence(deps({ seqCache: b }), [msg('cx', 'c-x', ['sq_c2'])]);
      const batch = [
        ...Array.from({ length: 25 }, (_, i) => msg('cb', `c1-${i}`, ['sq_c1'])),
        ...Array.from({ length: 5 }, (_, i) => msg('cb', `c2-${i}`, ['sq_c2'])),
      ];
      const r = await sequence(deps({ seqCache: a }), batch);
      expect(r).toMatchObject({ plan: 'cached-then-snapshot', retried: 25, recorded: 5 });
      expect((await historyIds('sq_c1')).map(([seq]) => seq)).toEqual(Array.from({ length: 26 }, (_, i) => i + 1));
      expect((await historyIds('sq_c2')).map(([, id]) => id)).toEqual([
        'c-0b',
        'c-x',
        'c2-0',
        'c2-1',
        'c2-2',
        'c2-3',
        'c2-4',
      ]);
    });
  });
});
