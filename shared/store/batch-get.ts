import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { fullJitterDelay, sleep } from '../backoff';
import type { Db } from './db';

/**
 * BatchGets of `wanted` (100 keys each), yielding the items found; keys left unprocessed are asked
 * again with backoff, at most 10 times. `consistent`: strongly consistent reads (2 units instead of 1
 * per 4 KB); `projection`: only these attributes.
 */
export async function* batchGet(
  db: Db,
  wanted: readonly Record<string, unknown>[],
  opts: { consistent: boolean; projection?: string },
): AsyncGenerator<Record<string, unknown>> {
  for (let i = 0; i < wanted.length; i += 100) {
    type Request = Record<
      string,
      { Keys: Record<string, unknown>[]; ConsistentRead: boolean; ProjectionExpression?: string }
    >;
    let request: Request | undefined = {
      [db.tableName]: {
        Keys: wanted.slice(i, i + 100),
        ConsistentRead: opts.consistent,
        ...(opts.projection !== undefined && { ProjectionExpression: opts.projection }),
      },
    };
    for (let attempt = 0; request && Object.keys(request).length > 0; attempt++) {
      if (attempt > 0) await sleep(fullJitterDelay(attempt, 25, 500)); // DynamoDB asked us to back off
      if (attempt > 10) throw new Error('DynamoDB left keys unprocessed after 10 attempts');
      const r = await db.doc.send(new BatchGetCommand({ RequestItems: request, ReturnConsumedCapacity: 'TOTAL' }));
      db.count('batchRequests', r.ConsumedCapacity, 'read');
      yield* r.Responses?.[db.tableName] ?? [];
      request = r.UnprocessedKeys as Request | undefined;
    }
  }
}

/** Strongly consistent BatchGets of whole items. */
export function consistentBatchGet(
  db: Db,
  wanted: readonly Record<string, unknown>[],
): AsyncGenerator<Record<string, unknown>> {
  return batchGet(db, wanted, { consistent: true });
}
