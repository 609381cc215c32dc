import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { consistentBatchGet } from './batch-get';
import { cancellationCodes, type Db } from './db';
import { keys } from './keys';

/**
 * The sequencer's view of the table: idempotency records and channel seqs, read together, and the
 * write that records events — one transaction per chunk of events, so a record, its seqs and its
 * history exist all together or not at all (a retry after a crash finds either nothing or the
 * whole record, never a seq without its event: no holes, no second seq).
 *
 * An idempotency record (`I#<id>`) names the order-queue message that recorded it (`by`), the seqs
 * it took and its `ts`; it expires after the idempotency window. The same message coming back (an
 * SQS retry after a crash or timeout) reuses them; any other message with that id is a duplicate.
 */
export interface IdempotencyRecord {
  by: string;
  seqs: Record<string, number>;
  ts: number;
}

export interface Snapshot {
  records: Map<string, IdempotencyRecord>;
  seqs: Map<string, number>;
}

export interface NewEvent {
  id: string;
  by: string;
  event: string;
  data: unknown;
  ts: number;
  seqs: Record<string, number>;
}

/** Raised when the table moved under us (a seq or a record changed since the snapshot): read again. */
export class SnapshotStaleError extends Error {
  override name = 'SnapshotStaleError';
}

export class EventLog {
  constructor(
    private readonly db: Db,
    private readonly opts: { retainEvents: number; retainSeconds: number; idempotencySeconds: number },
  ) {}

  /** Strongly consistent read of the records of `ids` (live ones only) and the seqs of `channels`. */
  async snapshot(ids: readonly string[], channels: readonly string[]): Promise<Snapshot> {
    const now = this.db.nowSeconds();
    const out: Snapshot = { records: new Map(), seqs: new Map(channels.map((c) => [c, 0])) };
    const wanted = [...new Set(ids)]
      .map((id) => keys.idempotency(id))
      .concat([...new Set(channels)].map((c) => keys.version(c)));
    for await (const item of consistentBatchGet(this.db, wanted)) {
      const pk = item.pk as string;
      if (pk.startsWith('V#')) out.seqs.set(pk.slice(2), Number(item.seq ?? 0));
      else if (pk.startsWith('I#') && Number(item.ttl ?? 0) >= now && typeof item.by === 'string') {
        out.records.set(pk.slice(2), {
          by: item.by,
          seqs: (item.seqs ?? {}) as Record<string, number>,
          ts: Number(item.ts),
        });
      }
    }
    return out;
  }

  /** Items one `commit` writes for these events (DynamoDB allows 100 per transaction). */
  itemCount(events: readonly NewEvent[]): number {
    const channels = new Set(events.flatMap((e) => Object.keys(e.seqs)));
    const history = this.opts.retainEvents > 0 ? events.reduce((n, e) => n + Object.keys(e.seqs).length, 0) : 0;
    return events.length + history + channels.size;
  }

  /**
   * Records events (in seq order) in one transaction: each event's idempotency record and history
   * items, and each channel's seq moved from its snapshot value to the last seq taken. Throws
   * SnapshotStaleError when a condition failed (someone else moved a seq or took an id).
   */
  async commit(events: readonly NewEvent[], from: ReadonlyMap<string, number>): Promise<void> {
    if (events.length === 0) return;
    const now = this.db.nowSeconds();
    const last = new Map<string, { seq: number; ts: number }>();
    for (const e of events) for (const [c, seq] of Object.entries(e.seqs)) last.set(c, { seq, ts: e.ts });
    const TableName = this.db.tableName;
    const items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = [];
    for (const e of events) {
      items.push({
        Put: {
          TableName,
          Item: {
            ...keys.idempotency(e.id),
            by: e.by,
            seqs: e.seqs,
            ts: e.ts,
            ttl: now + this.opts.idempotencySeconds,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR #ttl < :now',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':now': now },
        },
      });
      if (this.opts.retainEvents > 0) {
        for (const [channel, seq] of Object.entries(e.seqs)) {
          items.push({
            Put: {
              TableName,
              Item: {
                ...keys.historyItem(channel, seq),
                id: e.id,
                event: e.event,
                // JSON text, so any JSON value round-trips exactly (DynamoDB rejects empty sets, big numbers...).
                data: JSON.stringify(e.data),
                ts: e.ts,
                ttl: Math.ceil(e.ts / 1000) + this.opts.retainSeconds + 60,
              },
            },
          });
        }
      }
    }
    for (const [channel, { seq, ts }] of last) {
      const prev = from.get(channel) ?? 0;
      items.push({
        Update: {
          TableName,
          Key: keys.version(channel),
          UpdateExpression: 'SET seq = :to, lastTs = :ts',
          ConditionExpression: prev === 0 ? 'attribute_not_exists(seq) OR seq = :zero' : 'seq = :from',
          ExpressionAttributeValues:
            prev === 0 ? { ':to': seq, ':ts': ts, ':zero': 0 } : { ':to': seq, ':ts': ts, ':from': prev },
        },
      });
    }
    try {
      const r = await this.db.doc.send(
        new TransactWriteCommand({ TransactItems: items, ReturnConsumedCapacity: 'TOTAL' }),
      );
      this.db.count('transactRequests', r.ConsumedCapacity);
    } catch (err) {
      this.db.count('transactRequests');
      const codes = cancellationCodes(err);
      if (codes?.includes('ConditionalCheckFailed'))
        throw new SnapshotStaleError('the table changed since the snapshot (a seq moved or an id was taken)', {
          cause: err,
        });
      throw err;
    }
  }
}
