import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { forgetLaneHeads, HEAD_CACHE_EVENTS, resolveLaneMessages } from '../../shared/lane-refs';
import {
  frameHead,
  isLaneEventRef,
  LANE_REF_MIN_BYTES,
  laneOf,
  parseLaneMessage,
  type LaneMessage,
} from '../../shared/lanes';
import { sequence } from '../../shared/sequencer';
import { sqsFor } from '../../shared/sqs-client';
import { ConnectionStore } from '../../shared/store/connections';
import { fifoQueue, testRuntime, type TestRuntime } from '../helpers/runtime';

/**
 * A big event reaching several lanes travels by reference to its history item (shared/lanes.ts);
 * `deliver` reads it once per container and posts the very frame it would have carried.
 */
let t: TestRuntime;
let deliveryQueueUrl: string;
beforeAll(async () => {
  t = await testRuntime();
  deliveryQueueUrl = await fifoQueue(t, 'refs');
});
afterAll(() => t.stop());
beforeEach(() => forgetLaneHeads());

async function laneMessages(queueUrl = deliveryQueueUrl): Promise<LaneMessage[]> {
  const out: LaneMessage[] = [];
  for (;;) {
    const r = await sqsFor(t.rt).send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (!r.Messages?.length) return out;
    out.push(...r.Messages.map((m) => parseLaneMessage(m.Body ?? '') as LaneMessage));
  }
}

const WHO = { sub: 'u', role: 'admin', exp: 4e9 };

/** Two connections in different lanes, both subscribed to `channel`. */
async function inTwoLanes(prefix: string, channel: string): Promise<[string, string]> {
  const lanes = t.rt.config.lanes;
  const ids = Array.from({ length: 40 }, (_, i) => `${prefix}${i}`);
  const a = ids[0] as string;
  const b = ids.find((c) => laneOf(c, lanes) !== laneOf(a, lanes)) as string;
  const store = new ConnectionStore(t.rt.db, 3600);
  for (const c of [a, b]) await store.create(c, WHO, [channel]);
  return [a, b];
}

const sequencerDeps = (queueUrl: string) => ({
  db: t.rt.db,
  sqs: sqsFor(t.rt),
  log: t.telemetry,
  config: { ...t.rt.config, deliveryQueueUrl: queueUrl },
});

test('a big event to two lanes goes by reference and is read once per container; small ones and one-lane ones carry their data', async () => {
  // Two connections in different lanes on the big channel, one on a channel of its own.
  const [a] = await inTwoLanes('refs-c', 'refs_big');
  await new ConnectionStore(t.rt.db, 3600).create('refs-solo', WHO, ['refs_solo']);
  const big = { text: 'é"\\x'.repeat(LANE_REF_MIN_BYTES / 2), n: [1, 2.5, null, true] };
  const r = await sequence(sequencerDeps(deliveryQueueUrl), [
    { messageId: 'm1', event: { id: 'big-1', channels: ['refs_big'], event: 'e', data: big } },
    { messageId: 'm2', event: { id: 'small-1', channels: ['refs_big'], event: 'e', data: { n: 1 } } },
    { messageId: 'm3', event: { id: 'solo-1', channels: ['refs_solo'], event: 'e', data: big } },
  ]);
  expect(r.recorded).toBe(3);
  const sent = await laneMessages();
  const entries = sent.flatMap((m) => m.events);
  const refs = entries.filter(isLaneEventRef);
  expect(refs.map((e) => e.id)).toEqual(['big-1', 'big-1']); // one per lane
  expect(refs[0]?.ref).toEqual(['refs_big', 1]);
  expect(entries.filter((e) => !isLaneEventRef(e))).toHaveLength(3); // small-1 twice, solo-1 once, inline

  const first = await resolveLaneMessages(t.rt.db, sent);
  expect({ read: first.read, missing: first.missing }).toEqual({ read: 1, missing: [] });
  const heads = first.messages.flatMap((m) => m.events.map((e) => e.head));
  const ts = JSON.parse(`${heads.find((h) => h.includes('"big-1"'))}}`).ts as number;
  // Byte for byte the frame the sequencer would have put in the message.
  expect(heads.filter((h) => h.includes('"big-1"'))).toEqual([
    frameHead({ id: 'big-1', event: 'e', data: big }, ts),
    frameHead({ id: 'big-1', event: 'e', data: big }, ts),
  ]);
  expect((await resolveLaneMessages(t.rt.db, sent)).read).toBe(0); // the container keeps it

  // A reference whose history item is gone (or another event's): not posted, and said so.
  const stale: LaneMessage = {
    v: 1,
    events: [
      { id: 'gone-1', ref: ['refs_big', 99], targets: [[a, { refs_big: 99 }]] },
      { id: 'not-big-1', ref: ['refs_big', 2], targets: [[a, { refs_big: 2 }]] },
    ],
  };
  const resolved = await resolveLaneMessages(t.rt.db, [stale]);
  expect(resolved.missing).toEqual(['gone-1', 'not-big-1']);
  expect(resolved.messages[0]?.events).toEqual([]);
});

test('a batch referring to more events than the container keeps still posts every one of them', async () => {
  const [a] = await inTwoLanes('many-c', 'refs_many');
  const n = HEAD_CACHE_EVENTS + 44;
  const queueUrl = await fifoQueue(t, 'refs-many'); // the other test's lanes are still in flight on its queue
  const pad = 'y'.repeat(LANE_REF_MIN_BYTES);
  await sequence(
    sequencerDeps(queueUrl),
    Array.from({ length: n }, (_, i) => ({
      messageId: `mm${i}`,
      event: { id: `many-${i}`, channels: ['refs_many'], event: 'e', data: { i, pad } },
    })),
  );
  const sent = await laneMessages(queueUrl);
  expect(sent.flatMap((m) => m.events).filter(isLaneEventRef)).toHaveLength(2 * n);
  const r = await resolveLaneMessages(t.rt.db, sent);
  expect({ read: r.read, missing: r.missing.length }).toEqual({ read: n, missing: 0 });
  const posted = r.messages.flatMap((m) => m.events).filter((e) => e.targets.some(([c]) => c === a));
  expect(posted.map((e) => (JSON.parse(`${e.head}}`) as { data: { i: number } }).data.i)).toEqual(
    Array.from({ length: n }, (_, i) => i),
  );
});
