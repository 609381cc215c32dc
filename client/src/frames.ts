import type { WsErrorCode } from './codes';

/** Server frames (protocol §3), as the client receives them. */
export interface EventFrame {
  type: 'event';
  id: string;
  event: string;
  data: unknown;
  ts: number;
  /** The first of the event's channels this connection is subscribed to. */
  channel: string;
  /** Each subscribed channel of the event with that channel's new seq. */
  seqs: Record<string, number>;
}
export interface SubscribedFrame {
  type: 'subscribed';
  channel: string;
  seq: number;
  id?: string;
}
export interface UnsubscribedFrame {
  type: 'unsubscribed';
  channel: string;
  id?: string;
}
export interface ResetFrame {
  type: 'reset';
  channel: string;
  seq: number;
  id?: string;
}
export interface PongFrame {
  type: 'pong';
  ts: number;
  /** The server's current seq of every channel of the connection (protocol v1.1; absent from older servers). */
  seqs?: Record<string, number>;
  id?: string;
}
/** A user on a presence channel (protocol §8): from their token. */
export interface Member {
  sub: string;
  role?: string;
  name?: string;
}
/** Who is online on a channel: the answer to `presence` (and the body of `GET /presence`). */
export interface PresenceFrame {
  type: 'presence';
  channel: string;
  members: Member[];
  /** Connections subscribed to the channel. */
  occupancy: number;
  id?: string;
}
/** A user's first connection subscribed (`join`), or their last one left (`leave`). */
export interface MemberFrame {
  type: 'join' | 'leave';
  channel: string;
  member: Member;
  id?: undefined;
}
export interface ErrorFrame {
  type: 'error';
  code: WsErrorCode;
  message: string;
  id?: string;
}
export type ServerFrame = EventFrame | SubscribedFrame | UnsubscribedFrame | ResetFrame | PongFrame | PresenceFrame | MemberFrame | ErrorFrame;

/** Client frames. Subscribe/unsubscribe carry the channel name as `id`, so an error frame names its channel. */
export type ClientFrame =
  | { action: 'subscribe'; channel: string; since?: number; id: string }
  | { action: 'unsubscribe'; channel: string; id: string }
  | { action: 'presence'; channel: string; id: string }
  | { action: 'ping' };

/** Subscribes `channel` from `since` (undefined: from now; JSON leaves the field out). */
export const subscribeFrame = (channel: string, since?: number): ClientFrame => ({ action: 'subscribe', channel, since, id: channel });

/** Asks who is online on `channel`; the id (`?` is never in a channel name) tells its answer and errors from a subscribe's. */
export const presenceFrame = (channel: string): ClientFrame => ({ action: 'presence', channel, id: '?' + channel });

/** `GET /events` answer (protocol §5). */
export interface EventsResponse {
  channel: string;
  seq: number;
  events: EventFrame[];
  reset: boolean;
}

export const CHANNEL_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

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
    v.type === 'event' ? isEvent(v)
    : v.type === 'subscribed' || v.type === 'reset' ? typeof v.channel === 'string' && isSeq(v.seq)
    : v.type === 'unsubscribed' ? typeof v.channel === 'string'
    : v.type === 'error' ? typeof v.code === 'string'
    : v.type === 'presence' ? typeof v.channel === 'string' && Array.isArray(v.members)
    : v.type === 'join' || v.type === 'leave' ? typeof v.channel === 'string' && isObject(v.member)
    : v.type === 'pong' && (v.seqs === undefined || isSeqs(v.seqs));
  return ok ? (v as unknown as ServerFrame) : undefined;
}

export function isEvent(v: unknown): v is EventFrame {
  return isObject(v) && v.type === 'event' && typeof v.id === 'string' && isSeqs(v.seqs);
}

const isSeqs = (v: unknown): boolean => isObject(v) && Object.values(v).every(isSeq);
