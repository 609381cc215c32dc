import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
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

export async function addStats(db: Db, delta: Partial<Stats>): Promise<void> {
  const entries = Object.entries(delta).filter(([, v]) => v !== undefined && v !== 0) as [keyof Stats, number][];
  if (entries.length === 0) return;
  const r = await db.doc.send(
    new UpdateCommand({
      TableName: db.tableName,
      Key: keys.stats(),
      UpdateExpression: `ADD ${entries.map(([k]) => `#${k} :${k}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(entries.map(([k]) => [`#${k}`, k])),
      ExpressionAttributeValues: Object.fromEntries(entries.map(([k, v]) => [`:${k}`, v])),
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  db.count('updateRequests', r.ConsumedCapacity);
}

export async function readStats(db: Db): Promise<Stats> {
  const r = await db.doc.send(new GetCommand({ TableName: db.tableName, Key: keys.stats(), ReturnConsumedCapacity: 'TOTAL' }));
  db.count('getRequests', r.ConsumedCapacity);
  const n = (k: keyof Stats) => Math.max(0, Number(r.Item?.[k] ?? 0));
  return { connections: n('connections'), subscriptions: n('subscriptions'), channels: n('channels'), published: n('published'), delivered: n('delivered') };
}
