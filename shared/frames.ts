import * as z from 'zod/mini';
import { describeIssue } from './validation';
import { isValidChannelName } from './channel-rules';
import { errorFrame, type ErrorFrame } from './errors';
import { CLIENT_ACTIONS } from './routes';
import { CHANNEL_NAME_PATTERN, type ClientFrame } from './wire';

/**
 * Client frames (protocol §3): parsed and validated here, and nowhere else. Every rejection becomes an
 * error frame with a human message and the echoed `id` (when the frame had a string `id`). What a
 * schema accepts is the contract's ClientFrame (shared/wire.ts): `parseClientFrame` returns it.
 */
const idField = z.optional(z.string().check(z.maxLength(256, 'id must be at most 256 characters')));
const channelField = z
  .string({ error: 'channel must be a string' })
  .check(z.refine(isValidChannelName, `channel must match ${CHANNEL_NAME_PATTERN.source}`));

const subscribeSchema = z.object({
  action: z.literal('subscribe'),
  channel: channelField,
  since: z.optional(z.int({ error: 'since must be an integer' }).check(z.gte(0, 'since must be 0 or more'))),
  id: idField,
});
const unsubscribeSchema = z.object({ action: z.literal('unsubscribe'), channel: channelField, id: idField });
const pingSchema = z.object({ action: z.literal('ping'), id: idField });
const presenceSchema = z.object({ action: z.literal('presence'), channel: channelField, id: idField });

export type FrameParseResult = { ok: true; frame: ClientFrame } | { ok: false; error: ErrorFrame };

const SCHEMAS = {
  subscribe: subscribeSchema,
  unsubscribe: unsubscribeSchema,
  ping: pingSchema,
  presence: presenceSchema,
} as const;

export function parseClientFrame(body: string | undefined | null, maxBytes: number): FrameParseResult {
  const fail = (code: ErrorFrame['code'], message: string, id?: string): FrameParseResult => ({
    ok: false,
    error: errorFrame(code, message, id),
  });
  if (body === undefined || body === null || body.length === 0)
    return fail('bad_request', 'empty frame: send a JSON object with an "action"');

  let raw: unknown;
  let jsonOk = true;
  try {
    raw = JSON.parse(body);
  } catch {
    jsonOk = false;
  }
  const obj =
    jsonOk && typeof raw === 'object' && raw !== null && !Array.isArray(raw)
      ? (raw as Record<string, unknown>)
      : undefined;
  const echo = typeof obj?.id === 'string' && obj.id.length <= 256 ? obj.id : undefined;

  const size = Buffer.byteLength(body, 'utf8');
  if (size > maxBytes)
    return fail('too_large', `frame is ${size} bytes; client frames are limited to ${maxBytes} bytes`, echo);
  if (!jsonOk) return fail('bad_request', 'frame is not valid JSON');
  if (!obj) return fail('bad_request', 'frame must be a JSON object');
  if (obj.id !== undefined && typeof obj.id !== 'string') return fail('bad_request', 'id must be a string');
  if (typeof obj.action !== 'string') return fail('bad_request', 'frame needs a string "action"', echo);
  if (!(CLIENT_ACTIONS as readonly string[]).includes(obj.action)) {
    return fail(
      'unknown_action',
      `unknown action "${obj.action.slice(0, 64)}"; expected one of ${CLIENT_ACTIONS.join(', ')}`,
      echo,
    );
  }
  const parsed = SCHEMAS[obj.action as keyof typeof SCHEMAS].safeParse(obj);
  if (!parsed.success) return fail('bad_request', describeIssue(parsed.error.issues, obj, 'frame'), echo);
  return { ok: true, frame: parsed.data };
}

// ---- Server frames: their types are the contract's (shared/wire.ts) -------------------------------

export type {
  ClientFrame,
  EventFrame,
  MemberFrame,
  PingFrame,
  PongFrame,
  PresenceFrame,
  PresenceRequestFrame,
  ResetFrame,
  ServerFrame,
  SubscribedFrame,
  SubscribeFrame,
  UnsubscribedFrame,
  UnsubscribeFrame,
} from './wire';

/** Adds `id` only when the client sent one. */
export function withId<T extends object>(frame: T, id: string | undefined): T & { id?: string } {
  return id === undefined ? frame : { ...frame, id };
}
