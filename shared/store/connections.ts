import { BatchWriteCommand, DeleteCommand, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mapWithLimit } from '../concurrency';
import type { Identity } from '../tokens';
import { cancellationCodes, isConditionalCheckFailed, type Db } from './db';
import { fullJitterDelay, sleep } from '../backoff';
import { keys } from './keys';
import { addStats } from './stats';

/**
 * A subscription younger than this may belong to a connection whose `$connect` has not returned: a
 * post to it may answer 410 only because it is not established yet (its subscribers' `at`).
 */
export const FRESH_SUBSCRIPTION_MS = 15_000;

/** Connections and their subscriptions. Fan-out reads subscribers by channel with Query, never Scan. */
export interface ConnectionRecord {
  connectionId: string;
  identity: Identity;
  connectedAt: number;
  subCount: number;
}

export type SubscribeOutcome = 'subscribed' | 'already' | 'limit' | 'gone';

export interface RemovedConnection {
  existed: boolean;
  /** Subscriptions this call deleted. */
  subscriptions: number;
  /** The channels the connection was subscribed to. */
  channels: string[];
  /** The identity of the connection, when this call deleted its record. */
  identity?: Identity;
}

export class ConnectionStore {
  constructor(
    private readonly db: Db,
    private readonly ttlSeconds: number,
  ) {}

  private expiry(): number {
    return this.db.nowSeconds() + this.ttlSeconds;
  }

  /**
   * Records a new connection and the channels it subscribed to in its handshake: the connection item
   * and its subscription items in one BatchWriteItem (25 items: the connection and 12 channels; more
   * take further requests), the /stats counters beside it. One request instead of two on the
   * `$connect` path, where every DynamoDB round trip is latency the handshake waits for.
   */
  async create(connectionId: string, identity: Identity, channels: readonly string[]): Promise<void> {
    const ttl = this.expiry();
    const now = this.db.clock.now();
    const items = [
      { ...keys.connection(connectionId), connectionId, identity, connectedAt: now, subCount: channels.length, ttl },
      ...channels.flatMap((channel) => [
        { ...keys.connectionSubscription(connectionId, channel), channel, ttl },
        // `at`: written during $connect, when posts may still answer 410 (the connection is not established yet).
        { ...keys.channelSubscriber(channel, connectionId), connectionId, at: now, ttl },
      ]),
    ];
    const writing = (async () => {
      for (let i = 0; i < items.length; i += 25)
        await this.batchWrite(items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })));
    })();
    const [written, counted] = await Promise.allSettled([
      writing,
      addStats(this.db, { connections: 1, subscriptions: channels.length }),
    ]);
    if (written.status === 'rejected') throw written.reason;
    if (counted.status === 'rejected') throw counted.reason;
  }

  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const r = await this.db.doc.send(
      new GetCommand({
        TableName: this.db.tableName,
        Key: keys.connection(connectionId),
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.db.count('getRequests', r.ConsumedCapacity);
    if (!r.Item) return undefined;
    return {
      connectionId,
      identity: r.Item.identity as Identity,
      connectedAt: r.Item.connectedAt as number,
      subCount: r.Item.subCount as number,
    };
  }

  /** Adds one subscription, enforcing the per-connection limit atomically. */
  async subscribe(connectionId: string, channel: string, maxSubscriptions: number): Promise<SubscribeOutcome> {
    const ttl = this.expiry();
    try {
      const r = await this.db.doc.send(
        new TransactWriteCommand({
          ReturnConsumedCapacity: 'TOTAL',
          TransactItems: [
            {
              Update: {
                TableName: this.db.tableName,
                Key: keys.connection(connectionId),
                UpdateExpression: 'ADD subCount :one',
                ConditionExpression: 'attribute_exists(pk) AND subCount < :max',
                ExpressionAttributeValues: { ':one': 1, ':max': maxSubscriptions },
              },
            },
            {
              Put: {
                TableName: this.db.tableName,
                Item: { ...keys.connectionSubscription(connectionId, channel), channel, ttl },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.db.tableName,
                Item: { ...keys.channelSubscriber(channel, connectionId), connectionId, ttl },
              },
            },
          ],
        }),
      );
      this.db.count('transactRequests', r.ConsumedCapacity);
    } catch (err) {
      this.db.count('transactRequests');
      const codes = cancellationCodes(err);
      if (!codes) throw err;
      if (codes[1] === 'ConditionalCheckFailed') return 'already';
      if (codes[0] === 'ConditionalCheckFailed') return (await this.get(connectionId)) ? 'limit' : 'gone';
      throw err;
    }
    await addStats(this.db, { subscriptions: 1 });
    return 'subscribed';
  }

  /** Removes one subscription; false when there was none. */
  async unsubscribe(connectionId: string, channel: string): Promise<boolean> {
    try {
      const r = await this.db.doc.send(
        new TransactWriteCommand({
          ReturnConsumedCapacity: 'TOTAL',
          TransactItems: [
            {
              Delete: {
                TableName: this.db.tableName,
                Key: keys.connectionSubscription(connectionId, channel),
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            { Delete: { TableName: this.db.tableName, Key: keys.channelSubscriber(channel, connectionId) } },
            {
              Update: {
                TableName: this.db.tableName,
                Key: keys.connection(connectionId),
                UpdateExpression: 'ADD subCount :minus',
                ConditionExpression: 'attribute_exists(pk)',
                ExpressionAttributeValues: { ':minus': -1 },
              },
            },
          ],
        }),
      );
      this.db.count('transactRequests', r.ConsumedCapacity);
    } catch (err) {
      this.db.count('transactRequests');
      const codes = cancellationCodes(err);
      if (codes?.includes('ConditionalCheckFailed')) return false;
      throw err;
    }
    await addStats(this.db, { subscriptions: -1 });
    return true;
  }

  /**
   * Deletes a connection and all its subscriptions ($disconnect, or a 410 Gone during fan-out).
   * Safe to run twice or concurrently: counters move only for items this call really deleted.
   * Returns the channels it was subscribed to and, from the call that deleted the connection record,
   * its identity (for the presence leaves).
   */
  async remove(connectionId: string): Promise<RemovedConnection> {
    const channels = await this.channelsOf(connectionId);

    // Fan-out must stop finding this connection: drop the subscriber items first, 25 per request.
    for (let i = 0; i < channels.length; i += 25) {
      await this.batchWrite(
        channels
          .slice(i, i + 25)
          .map((channel) => ({ DeleteRequest: { Key: keys.channelSubscriber(channel, connectionId) } })),
      );
    }
    const removed = await mapWithLimit(
      channels,
      10,
      async (channel) => (await this.deleteExisting(keys.connectionSubscription(connectionId, channel))) !== undefined,
    );
    const record = await this.deleteExisting(keys.connection(connectionId));
    const existed = record !== undefined;
    const subscriptions = removed.filter(Boolean).length;
    if (existed || subscriptions > 0)
      await addStats(this.db, { connections: existed ? -1 : 0, subscriptions: -subscriptions });
    return { existed, subscriptions, channels, ...(record && { identity: record.identity as Identity }) };
  }

  /** True when the connection is subscribed to the channel now (a strongly consistent read). */
  async isSubscribed(connectionId: string, channel: string): Promise<boolean> {
    const r = await this.db.doc.send(
      new GetCommand({
        TableName: this.db.tableName,
        Key: keys.connectionSubscription(connectionId, channel),
        ConsistentRead: true,
        ProjectionExpression: 'pk',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.db.count('getRequests', r.ConsumedCapacity);
    return r.Item !== undefined;
  }

  /** Connections subscribed to `channel` (with `at`, when subscribed during `$connect`; else 0), one DynamoDB page at a time. */
  async *subscriberPages(channel: string, pageSize?: number): AsyncGenerator<{ connectionId: string; at: number }[]> {
    for await (const page of this.db.queryPages({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.subscribersPk(channel) },
      ProjectionExpression: 'sk, #at',
      ExpressionAttributeNames: { '#at': 'at' },
      Limit: pageSize,
    })) {
      const list = (page.Items ?? []).map((i) => ({ connectionId: i.sk as string, at: Number(i.at ?? 0) }));
      if (list.length > 0) yield list;
    }
  }

  /** The connection record (if any) and its channels, in one Query of its partition. */
  async describe(connectionId: string): Promise<{ record?: ConnectionRecord; channels: string[] }> {
    const channels: string[] = [];
    let record: ConnectionRecord | undefined;
    for await (const page of this.db.queryPages({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.connectionPk(connectionId) },
    })) {
      for (const item of page.Items ?? []) {
        if (item.sk === 'meta')
          record = {
            connectionId,
            identity: item.identity as Identity,
            connectedAt: item.connectedAt as number,
            subCount: item.subCount as number,
          };
        else if (typeof item.channel === 'string') channels.push(item.channel);
      }
    }
    return { record, channels };
  }

  /** The channels a connection is subscribed to. */
  async channelsOf(connectionId: string): Promise<string[]> {
    const channels: string[] = [];
    for await (const page of this.db.queryPages({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :s)',
      ExpressionAttributeValues: { ':pk': keys.connectionPk(connectionId), ':s': 'S#' },
      ProjectionExpression: 'channel',
    })) {
      for (const item of page.Items ?? []) channels.push(item.channel as string);
    }
    return channels;
  }

  async countSubscribers(channel: string): Promise<number> {
    let total = 0;
    for await (const page of this.db.queryPages({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.subscribersPk(channel) },
      Select: 'COUNT',
    })) {
      total += page.Count ?? 0;
    }
    return total;
  }

  /**
   * Deletes an item and returns it if it existed. Conditional on its existence, so that of removals
   * racing on one item ($disconnect and a 410 cleanup) exactly one gets it and counts it: DynamoDB
   * Local hands the old item to several concurrent unconditional deletes (135 of 200 rounds of three
   * in a scratch test), which drove the /stats gauges below the truth; with the condition, none.
   */
  private async deleteExisting(key: { pk: string; sk: string }): Promise<Record<string, unknown> | undefined> {
    try {
      const r = await this.db.doc.send(
        new DeleteCommand({
          TableName: this.db.tableName,
          Key: key,
          ConditionExpression: 'attribute_exists(pk)',
          ReturnValues: 'ALL_OLD',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.db.count('deleteRequests', r.ConsumedCapacity);
      return r.Attributes;
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
      this.db.count('deleteRequests');
      return undefined;
    }
  }

  private async batchWrite(
    requests: NonNullable<ConstructorParameters<typeof BatchWriteCommand>[0]['RequestItems']>[string],
  ): Promise<void> {
    let pending = requests;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(fullJitterDelay(attempt, 50, 1000)); // DynamoDB asked us to back off
      if (attempt > 8) throw new Error(`DynamoDB left ${pending.length} batch writes unprocessed`);
      const r = await this.db.doc.send(
        new BatchWriteCommand({ RequestItems: { [this.db.tableName]: pending }, ReturnConsumedCapacity: 'TOTAL' }),
      );
      this.db.count('batchRequests', r.ConsumedCapacity);
      pending = r.UnprocessedItems?.[this.db.tableName] ?? [];
    }
  }
}
