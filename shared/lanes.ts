/**
 * Delivery lanes: the delivery queue's message groups. A connection always maps to the same lane
 * (a stable hash of its id), the sequencer sends each lane its events in seq order, and SQS FIFO
 * hands one lane's messages to one `deliver` invocation at a time, in order: so every connection
 * receives each channel's events in seq order, however many invocations run.
 */
export interface LaneTarget {
  connectionId: string;
  /** The event's seqs for the channels this connection is subscribed to (event channel order). */
  seqs: Record<string, number>;
  /** Subscribed moments ago (maybe during `$connect`): a 410 may mean "not established yet". */
  fresh?: boolean;
}

export interface LaneEvent {
  /** `{"type":"event","id":..,"event":..,"data":..,"ts":..` without the closing brace. */
  head: string;
  /** `[connectionId, seqs, fresh?]` per target, compact on the wire. */
  targets: [string, Record<string, number>, 1?][];
}

/**
 * A big event that reaches several lanes travels by reference: its history item (channel, seq),
 * which `deliver` reads once per container instead of every lane carrying the data through SQS.
 */
export interface LaneEventRef {
  id: string;
  ref: [channel: string, seq: number];
  targets: LaneEvent['targets'];
}

/** A lane message as it travels: events with their frame head, or a reference to their history item. */
export interface LaneMessage {
  v: 1;
  events: (LaneEvent | LaneEventRef)[];
}

/** A lane message whose references have been read: what `deliverLanes` posts. */
export interface ResolvedLaneMessage {
  v: 1;
  events: LaneEvent[];
}

/** Events whose frame head is at least this long travel by reference when they reach two lanes or more. */
export const LANE_REF_MIN_BYTES = 4096;

/** FNV-1a (32 bit) of the connection id, modulo the lane count. */
export function laneOf(connectionId: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < connectionId.length; i++) {
    h ^= connectionId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % lanes;
}

/** The frame head every connection's frame of this event starts with (serialized once). */
export function frameHead(e: { id: string; event: string; data: unknown }, ts: number): string {
  return JSON.stringify({ type: 'event', id: e.id, event: e.event, data: e.data, ts }).slice(0, -1);
}

/**
 * The same head from a history item, whose `data` is the JSON text `JSON.stringify` made of it:
 * spliced in as it is, so the head is byte for byte what `frameHead` gives.
 */
export function frameHeadFromHistory(e: { id: string; event: string; data: string; ts: number }): string {
  return `{"type":"event","id":${JSON.stringify(e.id)},"event":${JSON.stringify(e.event)},"data":${e.data},"ts":${e.ts}`;
}

/** One connection's frame: the head plus its `channel` (first of its seqs) and `seqs`. */
export function eventFrame(head: string, seqs: Record<string, number>): string {
  const channel = Object.keys(seqs)[0] as string;
  return `${head},"channel":${JSON.stringify(channel)},"seqs":${JSON.stringify(seqs)}}`;
}

export interface OutgoingLaneMessage {
  lane: number;
  body: string;
  /** Event ids in the message, for its deduplication id. */
  eventIds: string[];
}

/**
 * Splits events (in seq order) into lane messages: per lane, the events' targets in that lane, in
 * order; a lane whose share passes `shardSize` connections or `maxBytes` continues in a next message.
 * Returns per lane its messages in order (lane order is irrelevant; order within a lane is kept).
 */
export function buildLaneMessages(
  events: { id: string; head: string; targets: LaneTarget[]; ref?: LaneEventRef['ref'] }[],
  opts: { lanes: number; shardSize: number; maxBytes: number },
): OutgoingLaneMessage[][] {
  const perLane = new Map<number, OutgoingLaneMessage[]>();
  const open = new Map<number, { events: LaneMessage['events']; ids: string[]; bytes: number; connections: number }>();
  const flush = (lane: number) => {
    const cur = open.get(lane);
    if (!cur || cur.events.length === 0) return;
    const list = perLane.get(lane) ?? [];
    list.push({ lane, body: JSON.stringify({ v: 1, events: cur.events } satisfies LaneMessage), eventIds: cur.ids });
    perLane.set(lane, list);
    open.delete(lane);
  };
  for (const e of events) {
    const byLane = new Map<number, LaneEvent['targets']>();
    for (const t of e.targets) {
      const lane = laneOf(t.connectionId, opts.lanes);
      let list = byLane.get(lane);
      if (!list) byLane.set(lane, (list = []));
      list.push(t.fresh ? [t.connectionId, t.seqs, 1] : [t.connectionId, t.seqs]);
    }
    // By reference only where it saves something: the data would otherwise cross SQS once per lane.
    const ref = e.ref && byLane.size > 1 ? e.ref : undefined;
    const headBytes = ref ? jsonLength(e.id) + jsonLength(ref[0]) + 80 : Buffer.byteLength(e.head) + 64;
    for (const [lane, targets] of byLane) {
      let i = 0;
      while (i < targets.length) {
        let cur = open.get(lane);
        if (cur && (cur.connections >= opts.shardSize || cur.bytes + headBytes >= opts.maxBytes)) {
          flush(lane);
          cur = undefined;
        }
        if (!cur) open.set(lane, (cur = { events: [], ids: [], bytes: 16, connections: 0 }));
        const entry: LaneEvent | LaneEventRef = ref ? { id: e.id, ref, targets: [] } : { head: e.head, targets: [] };
        cur.events.push(entry);
        cur.ids.push(e.id);
        cur.bytes += headBytes;
        while (i < targets.length && cur.connections < opts.shardSize) {
          const t = targets[i] as LaneEvent['targets'][number];
          const size = targetJsonLength(t) + 1;
          if (cur.bytes + size > opts.maxBytes && entry.targets.length > 0) break;
          entry.targets.push(t);
          cur.bytes += size;
          cur.connections++;
          i++;
        }
      }
    }
  }
  for (const lane of [...open.keys()]) flush(lane);
  return [...perLane.values()];
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;
const jsonLength = (s: string) => (NEEDS_ESCAPE.test(s) ? Buffer.byteLength(JSON.stringify(s)) : s.length + 2);

/**
 * `Buffer.byteLength(JSON.stringify(t))` without building the string (lane building runs once per
 * target of every event: 50,000 for one big event). Exact for ASCII names; anything else is measured.
 */
export function targetJsonLength(t: LaneEvent['targets'][number]): number {
  const [connectionId, seqs, fresh] = t;
  let n = 5 + jsonLength(connectionId) + (fresh === undefined ? 0 : 2); // [ , { } ] and ,1
  let first = true;
  for (const c in seqs) {
    n += jsonLength(c) + 1 + String(seqs[c]).length + (first ? 0 : 1);
    first = false;
  }
  return n;
}

/** Parses a lane message body; undefined when it is not one. */
export function parseLaneMessage(body: string): LaneMessage | undefined {
  try {
    const m = JSON.parse(body) as LaneMessage;
    if (m?.v !== 1 || !Array.isArray(m.events)) return undefined;
    return m;
  } catch {
    return undefined;
  }
}

export function isLaneEventRef(e: LaneEvent | LaneEventRef): e is LaneEventRef {
  return Array.isArray((e as Partial<LaneEventRef>).ref);
}

/** The event id of a lane message's entry. */
export function laneEventId(e: LaneEvent | LaneEventRef): string {
  return isLaneEventRef(e) ? e.id : (JSON.parse(`${e.head}}`) as { id: string }).id;
}
