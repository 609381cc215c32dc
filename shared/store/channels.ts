import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchGet } from './batch-get';
import type { Db } from './db';
import { keys, seqKey } from './keys';

/**
 * Per-channel version counters and retained history (protocol §6).
 *
 * Retention is the last `retainEvents` events or the last `retainSeconds`, whichever is less. It is
 * applied when reading (seq window and age filter), and items carry a TTL so DynamoDB deletes them
 * later: a publish costs one history write and never a trimming delete.
 */
export interface StoredEvent {
  id: string;
  event: string;
  data: unknown;
  ts: number;
  seq: number;
}

export interface Retention {
  retainEvents: number;
  retainSeconds: number;
}

export type HistoryResult = { reset: false; events: StoredEvent[] } | { reset: true; events: [] };

export class ChannelStore {
  constructor(
    private readonly db: Db,
    private readonly retention: Retention,
  ) {}

  /** Atomically adds 1 to the channel's seq and returns the new value. */
  async bump(channel: string, ts: number): Promise<number> {
    const r = await this.db.doc.send(
      new UpdateCommand({
        TableName: this.db.tableName,
        Key: keys.version(channel),
        UpdateExpression: 'ADD seq :one SET lastTs = :ts',
        ExpressionAttributeValues: { ':one': 1, ':ts': ts },
        ReturnValues: 'UPDATED_NEW',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.db.count('updateRequests', r.ConsumedCapacity);
    return Number(r.Attributes?.seq);
  }

  async seq(channel: string): Promise<number> {
    const r = await this.db.doc.send(
      new GetCommand({
        TableName: this.db.tableName,
        Key: keys.version(channel),
        ProjectionExpression: 'seq',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.db.count('getRequests', r.ConsumedCapacity);
    return Number(r.Item?.seq ?? 0);
  }

  /** Current seq of each channel (0 for a channel that never had an event). */
  async seqs(channels: readonly string[]): Promise<Record<string, number>> {
    const out: Record<string, number> = Object.fromEntries(channels.map((c) => [c, 0]));
    const unique = [...new Set(channels)];
    const items = batchGet(
      this.db,
      unique.map((c) => keys.version(c)),
      { consistent: false, projection: 'pk, seq' },
    );
    for await (const item of items) out[(item.pk as string).slice(2)] = Number(item.seq ?? 0);
    return out;
  }

  async append(channel: string, event: StoredEvent): Promise<void> {
    const r = await this.db.doc.send(
      new PutCommand({
        TableName: this.db.tableName,
        Item: {
          ...keys.historyItem(channel, event.seq),
          id: event.id,
          event: event.event,
          // Stored as JSON text so any JSON value round-trips exactly (DynamoDB rejects empty sets, big numbers...).
          data: JSON.stringify(event.data),
          ts: event.ts,
          ttl: Math.ceil(event.ts / 1000) + this.retention.retainSeconds + 60,
        },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.db.count('putRequests', r.ConsumedCapacity);
  }

  /** Oldest seq still retained by count, for a channel whose current seq is `current`. */
  private firstRetainedSeq(current: number): number {
    return Math.max(1, current - this.retention.retainEvents + 1);
  }

  private cutoffTs(): number {
    return this.db.clock.now() - this.retention.retainSeconds * 1000;
  }

  /**
   * Retained events with seq > since, in seq order; `reset` when history no longer covers since+1
   * (trimmed by count or age, or `since` is ahead of the channel).
   */
  async history(channel: string, since: number, current?: number): Promise<HistoryResult & { seq: number }> {
    const seq = current ?? (await this.seq(channel));
    if (since > seq) return { reset: true, events: [], seq };
    if (since === seq) return { reset: false, events: [], seq };
    const first = this.firstRetainedSeq(seq);
    if (since + 1 < first || this.retention.retainEvents === 0) return { reset: true, events: [], seq };
    const events = await this.readRange(channel, since + 1, seq);
    const cutoff = this.cutoffTs();
    const live = events.filter((e) => e.ts >= cutoff);
    if (live[0]?.seq !== since + 1) return { reset: true, events: [], seq };
    return { reset: false, events: live, seq };
  }

  /** How many events are retained now (for `GET /channels/<name>`). */
  async retainedCount(channel: string, current: number): Promise<number> {
    if (current === 0 || this.retention.retainEvents === 0) return 0;
    const cutoff = this.cutoffTs();
    return (await this.readRange(channel, this.firstRetainedSeq(current), current)).filter((e) => e.ts >= cutoff)
      .length;
  }

  private async readRange(channel: string, from: number, to: number): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    for await (const page of this.db.queryPages({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':pk': keys.historyPk(channel), ':from': seqKey(from), ':to': seqKey(to) },
    })) {
      for (const item of page.Items ?? []) {
        out.push({
          id: item.id as string,
          event: item.event as string,
          data: JSON.parse(item.data as string) as unknown,
          ts: item.ts as number,
          seq: Number(item.sk),
        });
      }
    }
    return out;
  }
}
