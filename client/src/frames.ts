import type {
  EventFrame,
  PingFrame,
  PresenceRequestFrame,
  ServerFrame,
  SubscribeFrame,
  UnsubscribeFrame,
} from '../../shared/wire';

/**
 * The client's side of the wire: the frames it sends and its reading of the server's. The frame types
 * themselves are the contract's, shared with the server (shared/wire.ts).
 */
export type { EventFrame, EventsResponse, Member, MemberFrame, PresenceFrame, ServerFrame } from '../../shared/wire';
export { CHANNEL_NAME_PATTERN } from '../../shared/wire';

/** Frames this client sends. Subscribe/unsubscribe/presence carry an `id`, so an error frame names its channel. */
export type ClientFrame = ((SubscribeFrame | UnsubscribeFrame | PresenceRequestFrame) & { id: string }) | PingFrame;

/** Subscribes `channel` from `since` (undefined: from now; JSON leaves the field out). */
export const subscribeFrame = (channel: string, since?: number): ClientFrame => ({
  action: 'subscribe',
  channel,
  since,
  id: channel,
});

/** Asks who is online on `channel`; the id (`?` is never in a channel name) tells its answer and errors from a subscribe's. */
export const presenceFrame = (channel: string): ClientFrame => ({ action: 'presence', channel, id: '?' + channel });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Parses one WebSocket message; anything that is not a well-formed server frame is ignored (undefined). */
export function parseServerFrame(data: unknown): ServerFrame | undefined {
  if (typeof data !== 'string') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!isObject(v)) return undefined;
  const ok =
    v.type === 'event'
      ? isEvent(v)
      : v.type === 'subscribed' || v.type === 'reset'
        ? typeof v.channel === 'string' && isSeq(v.seq)
        : v.type === 'unsubscribed'
          ? typeof v.channel === 'string'
          : v.type === 'error'
            ? typeof v.code === 'string'
            : v.type === 'presence'
              ? typeof v.channel === 'string' && Array.isArray(v.members)
              : v.type === 'join' || v.type === 'leave'
                ? typeof v.channel === 'string' && isObject(v.member)
                : v.type === 'pong' && (v.seqs === undefined || isSeqs(v.seqs));
  return ok ? (v as unknown as ServerFrame) : undefined;
}

export function isEvent(v: unknown): v is EventFrame {
  return isObject(v) && v.type === 'event' && typeof v.id === 'string' && isSeqs(v.seqs);
}

const isSeqs = (v: unknown): boolean => isObject(v) && Object.values(v).every(isSeq);
