const STATS_PK = 'STATS';

/** Key builders for the one table (see table-definition.ts for the design). */
export const keys = {
  connection: (connectionId: string) => ({ pk: `C#${connectionId}`, sk: 'meta' }),
  connectionPk: (connectionId: string) => `C#${connectionId}`,
  connectionSubscription: (connectionId: string, channel: string) => ({ pk: `C#${connectionId}`, sk: `S#${channel}` }),
  channelSubscriber: (channel: string, connectionId: string) => ({ pk: `S#${channel}`, sk: connectionId }),
  subscribersPk: (channel: string) => `S#${channel}`,
  version: (channel: string) => ({ pk: `V#${channel}`, sk: 'v' }),
  historyPk: (channel: string) => `H#${channel}`,
  historyItem: (channel: string, seq: number) => ({ pk: `H#${channel}`, sk: seqKey(seq) }),
  idempotency: (id: string) => ({ pk: `I#${id}`, sk: 'i' }),
  statsShard: (shard: number) => ({ pk: STATS_PK, sk: `global#${shard}` }),
  statsPk: () => STATS_PK,
  presence: (channel: string, sub: string) => ({ pk: `P#${channel}`, sk: sub }),
  presencePk: (channel: string) => `P#${channel}`,
};

/** Sort keys of history items: zero-padded so string order is seq order. */
export function seqKey(seq: number): string {
  return String(seq).padStart(15, '0');
}
