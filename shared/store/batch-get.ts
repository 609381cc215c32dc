import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { fullJitterDelay, sleep } from '../backoff';
import type { Db } from './db';

/** Strongly consistent BatchGets of `wanted` (100 keys each); keys left unprocessed are asked again with backoff. */
export async function* consistentBatchGet(
  db: Db,
  wanted: readonly Record<string, unknown>[],
): AsyncGenerator<Record<string, unknown>> {
  for (let i = 0; i < wanted.length; i += 100) {
    let request: Record<string, { Keys: Record<string, unknown>[]; ConsistentRead: boolean }> | undefined = {
      [db.tableName]: { Keys: wanted.slice(i, i + 100), ConsistentRead: true },
    };
    for (let attempt = 0; request && Object.keys(request).length > 0; attempt++) {
      if (attempt > 0) await sleep(fullJitterDelay(attempt, 25, 500)); // DynamoDB asked us to back off
      if (attempt > 10) throw new Error('DynamoDB left keys unprocessed after 10 attempts');
      const r = await db.doc.send(new BatchGetCommand({ RequestItems: request, ReturnConsumedCapacity: 'TOTAL' }));
      db.count('batchRequests', r.ConsumedCapacity, 'read');
      yield* r.Responses?.[db.tableName] ?? [];
      request = r.UnprocessedKeys as typeof request;
    }
  }
}
