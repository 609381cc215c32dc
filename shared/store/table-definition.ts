/**
 * The single DynamoDB table, defined once: the CDK stack and the local runtime (DynamoDB Local)
 * both create it from this definition.
 *
 * Key design (partition key `pk`, sort key `sk`, both strings; TTL attribute `ttl`, epoch seconds):
 *
 * | item                         | pk              | sk                 | main attributes                        |
 * | ---------------------------- | --------------- | ------------------ | -------------------------------------- |
 * | connection                   | `C#<connId>`    | `meta`             | identity claims, connectedAt, subCount |
 * | a connection's subscription  | `C#<connId>`    | `S#<channel>`      | channel (reverse index for cleanup)    |
 * | a channel's subscriber       | `S#<channel>`   | `<connId>`         | connectionId, at (fan-out Query)       |
 * | channel version counter      | `V#<channel>`   | `v`                | seq (conditional SET), lastTs          |
 * | retained event               | `H#<channel>`   | `<seq, 15 digits>` | id, event, data (JSON), ts             |
 * | idempotency record           | `I#<id>`        | `i`                | by (order-queue message), seqs, ts     |
 * | presence member              | `P#<channel>`   | `<sub>`            | conns, x#<connId>, member              |
 * | global counters (/stats)     | `STATS`         | `global#<0..15>`   | connections, subscriptions, channels,  |
 * |                              |                 |                    | published, delivered (16 shards summed)|
 *
 * Every item but counters carries `ttl`, so nothing lives forever if a cleanup is missed.
 * Separate partitions per kind keep the fan-out Query (`S#<channel>`) and history range reads
 * (`H#<channel>`, seq > since) to a single key condition each.
 */
export const TABLE_PARTITION_KEY = 'pk';
export const TABLE_SORT_KEY = 'sk';
export const TABLE_TTL_ATTRIBUTE = 'ttl';

export interface TableDefinition {
  partitionKey: { name: string; type: 'S' };
  sortKey: { name: string; type: 'S' };
  timeToLiveAttribute: string;
}

export const TABLE_DEFINITION: TableDefinition = {
  partitionKey: { name: TABLE_PARTITION_KEY, type: 'S' },
  sortKey: { name: TABLE_SORT_KEY, type: 'S' },
  timeToLiveAttribute: TABLE_TTL_ATTRIBUTE,
};
