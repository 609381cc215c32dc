import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionalCheckFailed, type Db } from './db';
import { keys } from './keys';

/**
 * Idempotency keys (protocol §4): the same `id` within the window is delivered once. A key whose TTL
 * has passed counts as free even before DynamoDB's lazy TTL deletion removes it.
 */
export class IdempotencyStore {
  constructor(
    private readonly db: Db,
    private readonly windowSeconds: number,
  ) {}

  /** True when this call claimed the id; false when it was already seen within the window. */
  async claim(id: string): Promise<boolean> {
    const now = this.db.nowSeconds();
    try {
      const r = await this.db.doc.send(
        new PutCommand({
          TableName: this.db.tableName,
          Item: { ...keys.idempotency(id), at: now, ttl: now + this.windowSeconds },
          ConditionExpression: 'attribute_not_exists(pk) OR #ttl < :now',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':now': now },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.db.count('putRequests', r.ConsumedCapacity);
      return true;
    } catch (err) {
      this.db.count('putRequests');
      if (isConditionalCheckFailed(err)) return false;
      throw err;
    }
  }

  /** Gives the id back after a failed attempt, so the retry is not taken for a duplicate. */
  async release(id: string): Promise<void> {
    const r = await this.db.doc.send(new DeleteCommand({ TableName: this.db.tableName, Key: keys.idempotency(id), ReturnConsumedCapacity: 'TOTAL' }));
    this.db.count('deleteRequests', r.ConsumedCapacity);
  }
}
