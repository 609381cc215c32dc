import { consistentBatchGet } from './batch-get';
import type { Db } from './db';
import { keys } from './keys';

export interface HistoryItem {
  id: string;
  event: string;
  /** The event's data as the JSON text it was stored as. */
  data: string;
  ts: number;
}

/**
 * Strongly consistent read of history items by (channel, seq): what `deliver` reads for the events a
 * lane message carries by reference (shared/lane-refs.ts). Keyed `channel seq`; an item no longer
 * there (past its TTL) is absent. Apart from EventLog so that deliver's bundle holds no transaction.
 */
export async function readHistoryItems(
  db: Db,
  refs: readonly (readonly [string, number])[],
): Promise<Map<string, HistoryItem>> {
  const out = new Map<string, HistoryItem>();
  const wanted = [...new Map(refs.map(([c, s]) => [`${c} ${s}`, keys.historyItem(c, s)])).values()];
  for await (const item of consistentBatchGet(db, wanted)) {
    const channel = (item.pk as string).slice(2);
    out.set(`${channel} ${Number(item.sk)}`, {
      id: item.id as string,
      event: item.event as string,
      data: item.data as string,
      ts: Number(item.ts),
    });
  }
  return out;
}
