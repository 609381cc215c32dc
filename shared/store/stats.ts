import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from './db';
import { keys } from './keys';

/** Global counters behind `GET /stats` (like nchan_stub_status), moved with atomic ADDs. */
export interface Stats {
  connections: number;
  subscriptions: number;
  channels: number;
  published: number;
  delivered: number;
}

const STATS_FIELDS: (keyof Stats)[] = ['connections', 'subscriptions', 'channels', 'published', 'delivered'];

/**
 * The counters are spread over this many items of one partition (`STATS` / `global#<n>`): each ADD
 * goes to a random one, `GET /stats` sums them all with one Query. One item would take every
 * connect, subscribe and delivery batch of the whole system (one DynamoDB partition holds about
 * 1,000 writes/s per key); sixteen spread that ceiling sixteen-fold at the price of one Query of
 * 16 small items per read. A pre-sharding `global` item is summed too.
 */
export const STATS_SHARDS = 16;

export async function addStats(db: Db, delta: Partial<Stats>, random: () => number = Math.random): Promise<void> {
  const entries = Object.entries(delta).filter(([, v]) => v !== undefined && v !== 0) as [keyof Stats, number][];
  if (entries.length === 0) return;
  const r = await db.doc.send(
    new UpdateCommand({
      TableName: db.tableName,
      Key: keys.statsShard(Math.floor(random() * STATS_SHARDS) % STATS_SHARDS),
      UpdateExpression: `ADD ${entries.map(([k]) => `#${k} :${k}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(entries.map(([k]) => [`#${k}`, k])),
      ExpressionAttributeValues: Object.fromEntries(entries.map(([k, v]) => [`:${k}`, v])),
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  db.count('updateRequests', r.ConsumedCapacity);
}

export async function readStats(db: Db): Promise<Stats> {
  const sums: Stats = { connections: 0, subscriptions: 0, channels: 0, published: 0, delivered: 0 };
  const pages = db.queryPages({
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': keys.statsPk() },
    ConsistentRead: true,
  });
  for await (const page of pages)
    for (const item of page.Items ?? []) for (const k of STATS_FIELDS) sums[k] += Number(item[k] ?? 0);
  for (const k of STATS_FIELDS) sums[k] = Math.max(0, sums[k]);
  return sums;
}
