import LRUCache from './lru-cache';
import {
  frameHeadFromHistory,
  isLaneEventRef,
  type LaneEvent,
  type LaneMessage,
  type ResolvedLaneMessage,
} from './lanes';
import type { Db } from './store/db';
import { readHistoryItems } from './store/history-items';

/**
 * Reads the events that lane messages carry by reference (shared/lanes.ts `LaneEventRef`: a big event
 * reaching several lanes) from their history items, once per container: the frame heads read are
 * kept (bounded, most recently used), so the lanes a container delivers share one read per event.
 */
export const HEAD_CACHE_EVENTS = 256;
const heads = new LRUCache<string, string>(HEAD_CACHE_EVENTS);

export interface ResolvedLanes {
  messages: ResolvedLaneMessage[];
  /** Event ids whose history item is gone (past its TTL): their frames cannot be posted. */
  missing: string[];
  /** Frames of those events: the targets they had in these messages. */
  missingFrames: number;
  /** History items read for this batch (0 when every referenced event was cached). */
  read: number;
}

export async function resolveLaneMessages(db: Db, messages: readonly LaneMessage[]): Promise<ResolvedLanes> {
  // This batch's heads: the container's cache is only where they are looked up first (other
  // invocations, and this batch's own reads, may push them out of it before they are used).
  const batchHeads = new Map<string, string>();
  const wanted = new Map<string, [string, number]>();
  for (const m of messages)
    for (const e of m.events) {
      if (!isLaneEventRef(e) || batchHeads.has(e.id)) continue;
      const cached = heads.get(e.id);
      if (cached !== undefined) batchHeads.set(e.id, cached);
      else wanted.set(e.id, e.ref);
    }
  if (wanted.size > 0) {
    const items = await readHistoryItems(db, [...wanted.values()]);
    for (const [id, [channel, seq]] of wanted) {
      const item = items.get(`${channel} ${seq}`);
      // The item at that seq is this event's: a seq is never given to two events.
      if (!item || item.id !== id) continue;
      const head = frameHeadFromHistory(item);
      batchHeads.set(id, head);
      heads.set(id, head);
    }
  }
  const missing = new Set<string>();
  let missingFrames = 0;
  const resolved = messages.map((m) => ({
    v: 1 as const,
    events: m.events.flatMap((e): LaneEvent[] => {
      if (!isLaneEventRef(e)) return [e];
      const head = batchHeads.get(e.id);
      if (head === undefined) {
        missing.add(e.id);
        missingFrames += e.targets.length;
        return [];
      }
      return [{ head, targets: e.targets }];
    }),
  }));
  return { messages: resolved, missing: [...missing], missingFrames, read: wanted.size };
}

/** Test hook: forget the heads read. */
export function forgetLaneHeads(): void {
  heads.clear();
}
