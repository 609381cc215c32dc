import * as z from 'zod/mini';
import { describeIssue } from './validation';
import { isValidChannelName } from './channel-rules';
import { errorFrame, type ErrorFrame } from './errors';
import { CLIENT_ACTIONS } from './routes';
import type { Member } from './store/presence';

/**
 * Client frames (protocol §3): parsed and validated here, and nowhere else. Every rejection becomes an
 * error frame with a human message and the echoed `id` (when the frame had a string `id`).
 */
const idField = z.optional(z.string().check(z.maxLength(256, 'id must be at most 256 characters')));
const channelField = z.string({ error: 'channel must be a string' }).check(z.refine(isValidChannelName, 'channel must match ^[A-Za-z0-9_.:-]{1,128}$'));

const subscribeSchema = z.object({
  action: z.literal('subscribe'),
  channel: channelField,
  since: z.optional(z.int({ error: 'since must be an integer' }).check(z.gte(0, 'since must be 0 or more'))),
  id: idField,
});
const unsubscribeSchema = z.object({ action: z.literal('unsubscribe'), channel: channelField, id: idField });
const pingSchema = z.object({ action: z.literal('ping'), id: idField });
const presenceSchema = z.object({ action: z.literal('presence'), channel: channelField, id: idField });

export type SubscribeFrame = z.infer<typeof subscribeSchema>;
export type UnsubscribeFrame = z.infer<typeof unsubscribeSchema>;
export type PingFrame = z.infer<typeof pingSchema>;
export type PresenceRequestFrame = z.infer<typeof presenceSchema>;
export type ClientFrame = SubscribeFrame | UnsubscribeFrame | PingFrame | PresenceRequestFrame;

export type FrameParseResult = { ok: true; frame: ClientFrame } | { ok: false; error: ErrorFrame };

const SCHEMAS = { subscribe: subscribeSchema, unsubscribe: unsubscribeSchema, ping: pingSchema, presence: presenceSchema } as const;

export function parseClientFrame(body: string | undefined | null, maxBytes: number): FrameParseResult {
  const fail = (code: ErrorFrame['code'], message: string, id?: string): FrameParseResult => ({ ok: false, error: errorFrame(code, message, id) });
  if (body === undefined || body === null || body.length === 0) return fail('bad_request', 'empty frame: send a JSON object with an "action"');

  let raw: unknown;
  let jsonOk = true;
  try {
    raw = JSON.parse(body);
  } catch {
    jsonOk = false;
  }
  const obj = jsonOk && typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
  const echo = typeof obj?.id === 'string' && obj.id.length <= 256 ? obj.id : undefined;

  const size = Buffer.byteLength(body, 'utf8');
  if (size > maxBytes) return fail('too_large', `frame is ${size} bytes; client frames are limited to ${maxBytes} bytes`, echo);
  if (!jsonOk) return fail('bad_request', 'frame is not valid JSON');
  if (!obj) return fail('bad_request', 'frame must be a JSON object');
  if (obj.id !== undefined && typeof obj.id !== 'string') return fail('bad_request', 'id must be a string');
  if (typeof obj.action !== 'string') return fail('bad_request', 'frame needs a string "action"', echo);
  if (!(CLIENT_ACTIONS as readonly string[]).includes(obj.action)) {
    return fail('unknown_action', `unknown action "${obj.action.slice(0, 64)}"; expected one of ${CLIENT_ACTIONS.join(', ')}`, echo);
  }
  const parsed = SCHEMAS[obj.action as keyof typeof SCHEMAS].safeParse(obj);
  if (!parsed.success) return fail('bad_request', describeIssue(parsed.error.issues, obj, 'frame'), echo);
  return { ok: true, frame: parsed.data };
}

// ---- Server frames -------------------------------------------------------------------------------

export interface EventFrame {
  type: 'event';
  id: string;
  event: string;
  data: unknown;
  ts: number;
  channel: string;
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
  /** The current seq of every channel the connection is subscribed to (protocol v1.1). */
  seqs: Record<string, number>;
  id?: string;
}

/** Who is online on a channel (protocol §8): the answer to `presence`, and the body of `GET /presence`. */
export interface PresenceFrame {
  type: 'presence';
  channel: string;
  members: Member[];
  /** Connections subscribed (a user with two devices counts twice; tabs sharing one connection, once). */
  occupancy: number;
  id?: string;
}
/** A user's first connection subscribed (`join`), or their last one left (`leave`); no seq, never replayed. */
export interface MemberFrame {
  type: 'join' | 'leave';
  channel: string;
  member: Member;
}

export type ServerFrame = EventFrame | SubscribedFrame | UnsubscribedFrame | ResetFrame | PongFrame | PresenceFrame | MemberFrame | ErrorFrame;

/** Adds `id` only when the client sent one. */
export function withId<T extends object>(frame: T, id: string | undefined): T & { id?: string } {
  return id === undefined ? frame : { ...frame, id };
}
