/**
 * The wire contract (docs/protocol.md) as types and constants, in one place: the frames both sides
 * exchange, the error codes, the channel-name pattern. The server (shared/) and the browser client
 * (client/src/) both import this module, so they cannot drift apart.
 *
 * Dependency-free on purpose: no imports, no Node or DOM APIs. The browser bundle includes it, and
 * test/client/bundle.test.ts checks that it is the only file from outside client/ that it includes.
 */

/** Channel names (protocol §2). */
export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

// ---- Error codes (protocol §3 and §5) ------------------------------------------------------------

/** Error frame codes on the WebSocket: the connection stays open after any of them. */
export const WS_ERROR_CODES = ['bad_request', 'unknown_action', 'forbidden', 'too_large', 'limit', 'internal'] as const;
export type WsErrorCode = (typeof WS_ERROR_CODES)[number];

/** Error body codes of the HTTP API (polling fallback). */
export const HTTP_ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'rate_limited',
  'internal',
] as const;
export type HttpErrorCode = (typeof HTTP_ERROR_CODES)[number];

/** The HTTP status of each error body code. */
export const HTTP_ERROR_STATUS: Record<HttpErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  rate_limited: 429,
  internal: 500,
};

/** An HTTP error body: `{"error":{"code","message"}}`. */
export interface HttpErrorBody {
  error: { code: HttpErrorCode; message: string };
}

// ---- Client frames (protocol §3) -----------------------------------------------------------------

export interface SubscribeFrame {
  action: 'subscribe';
  channel: string;
  /** Replay retained events after this seq (undefined: from now). */
  since?: number;
  id?: string;
}
export interface UnsubscribeFrame {
  action: 'unsubscribe';
  channel: string;
  id?: string;
}
export interface PingFrame {
  action: 'ping';
  id?: string;
}
/** Who is online on a presence channel (protocol §8). */
export interface PresenceRequestFrame {
  action: 'presence';
  channel: string;
  id?: string;
}
export type ClientFrame = SubscribeFrame | UnsubscribeFrame | PingFrame | PresenceRequestFrame;

// ---- Server frames (protocol §3, §8) -------------------------------------------------------------

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
  /**
   * The current seq of every channel the connection is subscribed to (protocol v1.1). This server
   * always sends it; a client reading a v1.0 server finds it absent, hence optional here.
   */
  seqs?: Record<string, number>;
  id?: string;
}
/** A user on a presence channel (protocol §8): from their token. */
export interface Member {
  sub: string;
  role?: string;
  name?: string;
}
/** Who is online on a channel: the answer to `presence`, and the body of `GET /presence`. */
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
  id?: undefined;
}
/** An error frame: the connection stays open. `id` echoes the request's. */
export interface ErrorFrame {
  type: 'error';
  code: WsErrorCode;
  message: string;
  id?: string;
}
export type ServerFrame =
  EventFrame | SubscribedFrame | UnsubscribedFrame | ResetFrame | PongFrame | PresenceFrame | MemberFrame | ErrorFrame;

// ---- HTTP API answers (protocol §5) --------------------------------------------------------------

/** `GET /events` answer. */
export interface EventsResponse {
  channel: string;
  seq: number;
  events: EventFrame[];
  reset: boolean;
}
