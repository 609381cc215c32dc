import { createHash } from 'node:crypto';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Config } from './config';
import { buildLaneMessages, frameHead, LANE_REF_MIN_BYTES, type LaneTarget, type OutgoingLaneMessage } from './lanes';
import { mapWithLimit } from './concurrency';
import type { PublishedEvent } from './publish-message';
import { ConnectionStore, FRESH_SUBSCRIPTION_MS } from './store/connections';
import type { Db } from './store/db';
import { EventLog, SnapshotStaleError, type NewEvent, type Snapshot } from './store/event-log';
import { addStats } from './store/stats';
import { sendBatches } from './sqs-batch';
import type { Log } from './telemetry';

/**
 * The sequencer: the one stage that assigns seqs. It consumes the order queue (SQS FIFO, one
 * message group), so exactly one batch is sequenced at a time, in order; for a batch it
 * 1. reads the events' idempotency records and their channels' seqs (one consistent BatchGet);
 * 2. drops duplicates, reuses the seqs of events this same message already recorded (a retry), and
 *    gives new events the next seqs, channel by channel;
 * 3. records new events with their seqs and history in transactions (all or nothing);
 * 4. resolves each event's subscribers and sends each delivery lane its events, in seq order
 *    (shared/lanes.ts); a retry re-sends with the same deduplication ids.
 * Anything failing throws; the whole batch is retried and steps 1–4 are safe to repeat.
 */
export interface OrderedMessage {
  /** The order-queue message id: what an idempotency record names as its owner. */
  messageId: string;
  event: PublishedEvent;
}

export interface SequenceDeps {
  db: Db;
  sqs: SQSClient;
  config: Pick<
    Config,
    | 'retainEvents'
    | 'retainSeconds'
    | 'idempotencySeconds'
    | 'connectionTtlSeconds'
    | 'lanes'
    | 'shardSize'
    | 'deliveryQueueUrl'
  >;
  log: Log;
  /** The container's last known seq per channel (default: one per process, like a Lambda container). */
  seqCache?: SeqCache;
  /**
   * Epoch ms (db.clock) after which no lane round is sent: the batch has been (or is about to be)
   * handed back for a retry, which sends the same rounds itself. An attempt still running past it
   * (on Lambda: one resumed in a thawed sandbox) must not add lane messages behind the retry's.
   */
  deadline?: number;
}

/**
 * The seqs this container last read or wrote, per channel. The sequencer is the only writer of
 * seqs and runs one batch at a time, so in a warm container they are almost always current: a
 * batch whose channels are all known skips the snapshot read and commits on the assumption that
 * its events are new and the seqs unchanged. The transaction's conditions check exactly that; if
 * either is false (a retried message, a duplicate id, another container moved a seq), nothing is
 * written and the batch is planned again from a consistent snapshot. Bounded; oldest out first.
 */
export class SeqCache {
  private readonly seqs = new Map<string, number>();
  constructor(private readonly limit = 50_000) {}

  /** Every channel's seq, or undefined if one is not known. */
  get(channels: readonly string[]): Map<string, number> | undefined {
    const out = new Map<string, number>();
    for (const c of channels) {
      const seq = this.seqs.get(c);
      if (seq === undefined) return undefined;
      out.set(c, seq);
    }
    return out;
  }

  set(seqs: ReadonlyMap<string, number>): void {
    for (const [c, seq] of seqs) {
      this.seqs.delete(c);
      this.seqs.set(c, seq);
    }
    while (this.seqs.size > this.limit) this.seqs.delete(this.seqs.keys().next().value as string);
  }

  forget(channels: readonly string[]): void {
    for (const c of channels) this.seqs.delete(c);
  }
}

const containerSeqCache = new SeqCache();

export interface SequenceReport {
  recorded: number;
  retried: number;
  duplicates: number;
  /** Seqs per event id (recorded or reused). */
  seqs: Record<string, Record<string, number>>;
  connections: number;
  laneMessages: number;
  /** Milliseconds per step: snapshot, commit, resolve, send. */
  ms: Record<'snapshot' | 'commit' | 'resolve' | 'send', number>;
  /** How the batch was planned: from the container's seqs (no read), or a snapshot (after a refused guess). */
  plan: 'cached' | 'snapshot' | 'cached-then-snapshot';
}

/** SQS's message size limit, minus room for attributes. */
export const MAX_LANE_MESSAGE_BYTES = 250 * 1024;

export async function sequence(deps: SequenceDeps, messages: readonly OrderedMessage[]): Promise<SequenceReport> {
  const { db, config } = deps;
  const log = new EventLog(db, config);
  const report: SequenceReport = {
    recorded: 0,
    retried: 0,
    duplicates: 0,
    seqs: {},
    connections: 0,
    laneMessages: 0,
    ms: { snapshot: 0, commit: 0, resolve: 0, send: 0 },
    plan: 'snapshot',
  };
  const cache = deps.seqCache ?? containerSeqCache;
  let mark = Date.now();
  const lap = (step: keyof SequenceReport['ms']) => {
    const t = Date.now();
    report.ms[step] = t - mark;
    if (step !== 'commit') mark = t;
  };
  if (messages.length === 0) return report;

  const channels = [...new Set(messages.flatMap((m) => m.event.channels))];
  const ids = messages.map((m) => m.event.id);
  const known = cache.get(channels);
  let planned: Planned;
  try {
    if (known) {
      report.plan = 'cached';
      lap('snapshot');
      try {
        planned = await planAndRecord(log, messages, { records: new Map(), seqs: known }, db.clock.now(), report);
      } catch (err) {
        if (!(err instanceof SnapshotStaleError)) throw err;
        // A retry, a duplicate, or a seq moved elsewhere: the guess was refused (a chunk committed
        // before it is this message's own record now, reused as a retry). Plan from a snapshot.
        report.plan = 'cached-then-snapshot';
        planned = await planAndRecord(log, messages, await log.snapshot(ids, channels), db.clock.now(), report);
      }
    } else {
      const snap = await log.snapshot(ids, channels);
      lap('snapshot');
      planned = await planAndRecord(log, messages, snap, db.clock.now(), report);
    }
  } catch (err) {
    cache.forget(channels); // what was written in part is read again next time
    throw err;
  }
  cache.set(planned.current);
  lap('commit');
  const { deliverable, fresh, now } = planned;
  // Subscribers are read after the commit, never meanwhile: a subscribe writes its subscription and
  // then reads history (shared/client-actions.ts), so a subscription this read misses was written
  // after the commit, and that history read has the event. Read before the commit, a subscription
  // written in between would miss the event live and in its replay (protocol §3: nothing is lost
  // between `since` and live).
  const subscribers = new Map<string, { connectionId: string; at: number }[]>();
  const connections = new ConnectionStore(db, config.connectionTtlSeconds);
  await mapWithLimit([...new Set(deliverable.flatMap((d) => d.event.channels))], 8, async (channel) => {
    const list: { connectionId: string; at: number }[] = [];
    for await (const page of connections.subscriberPages(channel)) list.push(...page);
    subscribers.set(channel, list);
  });
  // Only while history keeps events (a retention of 0 writes none) for a while after they are sent.
  const byReference = config.retainEvents > 0 && config.retainSeconds > 0;
  const laneInput = deliverable.map(({ event, seqs, ts }) => {
    const targets = new Map<string, LaneTarget>();
    for (const channel of event.channels) {
      for (const { connectionId, at } of subscribers.get(channel) ?? []) {
        let t = targets.get(connectionId);
        if (!t) targets.set(connectionId, (t = { connectionId, seqs: {} }));
        t.seqs[channel] = seqs[channel] as number;
        if (now - at < FRESH_SUBSCRIPTION_MS) t.fresh = true;
      }
    }
    report.connections += targets.size;
    const head = frameHead(event, ts);
    const first = event.channels[0] as string;
    // A big event travels by reference to its history item (read once per deliver container).
    const ref: [string, number] | undefined =
      byReference && head.length >= LANE_REF_MIN_BYTES ? [first, seqs[first] as number] : undefined;
    return { id: event.id, head, targets: [...targets.values()], ref };
  });
  lap('resolve');
  const lanes = buildLaneMessages(laneInput, {
    lanes: config.lanes,
    shardSize: config.shardSize,
    maxBytes: MAX_LANE_MESSAGE_BYTES,
  });
  // The /stats counters move beside the send, not after it: they are not on the event's path.
  const newChannels = [
    ...new Set(
      fresh.flatMap((e) =>
        Object.entries(e.seqs)
          .filter(([, s]) => s === 1)
          .map(([c]) => c),
      ),
    ),
  ].length;
  // `delivered` counts the frames handed to the lanes here, once per event (a retry's repeats are not
  // counted again); deliver takes back only those it gives up (shared/deliver-batch.ts), so a deliver
  // batch that posts every frame writes no counter.
  const freshIds = new Set(fresh.map((e) => e.id));
  const delivered = laneInput.reduce((n, e) => n + (freshIds.has(e.id) ? e.targets.length : 0), 0);
  const counting =
    fresh.length > 0
      ? addStats(db, { published: fresh.length, channels: newChannels, delivered }).catch(() => undefined)
      : Promise.resolve();
  report.laneMessages = await sendLanes(deps, lanes);
  lap('send');
  await counting;
  return report;
}

interface Planned {
  fresh: NewEvent[];
  deliverable: { event: PublishedEvent; seqs: Record<string, number>; ts: number }[];
  /** Every channel's seq once the batch is recorded. */
  current: Map<string, number>;
  now: number;
}

/**
 * Plans a batch from a snapshot (drops duplicates, reuses the seqs of events this same message
 * recorded before, gives new events the next seqs) and records the new events, in chunks that fit
 * one transaction (100 items, well under 4 MB as data ≤ 32 KB per event). Throws SnapshotStaleError
 * when the table is not what the snapshot said.
 */
async function planAndRecord(
  log: EventLog,
  messages: readonly OrderedMessage[],
  snap: Snapshot,
  now: number,
  report: SequenceReport,
): Promise<Planned> {
  Object.assign(report, { recorded: 0, retried: 0, duplicates: 0, seqs: {} });
  const current = new Map(snap.seqs);
  const claimed = new Map(snap.records);
  const fresh: NewEvent[] = [];
  const deliverable: Planned['deliverable'] = [];
  for (const { messageId, event } of messages) {
    const record = claimed.get(event.id);
    if (record && record.by !== messageId) {
      report.duplicates++;
      continue;
    }
    if (record) {
      report.retried++;
      deliverable.push({ event, seqs: record.seqs, ts: record.ts });
      report.seqs[event.id] = record.seqs;
      continue;
    }
    const seqs: Record<string, number> = {};
    for (const c of event.channels) {
      const next = (current.get(c) ?? 0) + 1;
      current.set(c, next);
      seqs[c] = next;
    }
    const entry: NewEvent = { id: event.id, by: messageId, event: event.event, data: event.data, ts: now, seqs };
    claimed.set(event.id, { by: messageId, seqs, ts: now });
    fresh.push(entry);
    deliverable.push({ event, seqs, ts: now });
    report.seqs[event.id] = seqs;
  }
  const moved = new Map(snap.seqs);
  let chunk: NewEvent[] = [];
  const commit = async () => {
    if (chunk.length === 0) return;
    await log.commit(chunk, moved);
    for (const e of chunk) for (const [c, s] of Object.entries(e.seqs)) moved.set(c, s);
    chunk = [];
  };
  for (const e of fresh) {
    if (chunk.length > 0 && (log.itemCount([...chunk, e]) > 100 || chunk.length >= 25)) await commit();
    chunk.push(e);
  }
  await commit();
  report.recorded = fresh.length;
  return { fresh, deliverable, current, now };
}

/**
 * Sends every lane its messages in order: round r carries the r-th message of each lane (so no
 * request holds two messages of one lane), and a round starts only when the previous one is in.
 */
async function sendLanes(deps: SequenceDeps, lanes: OutgoingLaneMessage[][]): Promise<number> {
  const queueUrl = deps.config.deliveryQueueUrl;
  if (!queueUrl)
    throw new Error(
      'SWITCHBOARD_DELIVERY_QUEUE_URL is not set: the sequencer cannot hand events to the delivery lanes',
    );
  let sent = 0;
  for (let round = 0; ; round++) {
    if (deps.deadline !== undefined && deps.db.clock.now() >= deps.deadline && lanes.some((l) => l[round]))
      throw new Error(`out of time before lane round ${round}: the batch is retried and sends it`);
    const batch = lanes
      .map((list) => ({ msg: list[round], index: round }))
      .filter((x): x is { msg: OutgoingLaneMessage; index: number } => x.msg !== undefined);
    if (batch.length === 0) return sent;
    const requests = sendBatches(batch, (item) => item.msg.body);
    await Promise.all(requests.map((req) => sendBatch(deps.sqs, queueUrl, req)));
    sent += batch.length;
  }
}

async function sendBatch(
  sqs: SQSClient,
  queueUrl: string,
  items: { msg: OutgoingLaneMessage; index: number }[],
): Promise<void> {
  let entries = items.map(({ msg, index }, i) => ({
    Id: String(i),
    MessageBody: msg.body,
    MessageGroupId: `lane-${msg.lane}`,
    MessageDeduplicationId: createHash('sha256')
      .update(`${msg.lane}|${index}|${msg.eventIds.join('\n')}`)
      .digest('hex'),
  }));
  for (let attempt = 0; entries.length > 0; attempt++) {
    if (attempt >= 5) throw new Error(`SQS refused ${entries.length} lane messages after ${attempt} attempts`);
    if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    const r = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    const failed = new Set((r.Failed ?? []).map((f) => f.Id));
    entries = entries.filter((e) => failed.has(e.Id));
  }
}
