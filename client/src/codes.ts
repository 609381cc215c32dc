/**
 * Every error and close code the client deals in, in one place (protocol §3 and §5).
 */

/** Error frame codes on the WebSocket: the connection stays open after any of them. */
export const WS_ERROR_CODES = ['bad_request', 'unknown_action', 'forbidden', 'too_large', 'limit', 'internal'] as const;
/** Error body codes of the HTTP API (polling fallback). */
export const HTTP_ERROR_CODES = ['bad_request', 'unauthorized', 'forbidden', 'not_found', 'rate_limited', 'internal'] as const;

export type WsErrorCode = (typeof WS_ERROR_CODES)[number];
export type HttpErrorCode = (typeof HTTP_ERROR_CODES)[number];
export type ErrorCode = WsErrorCode | HttpErrorCode;

/** What `on('error')` listeners receive. `channel` is set when the error answers a subscribe/unsubscribe or a channel's HTTP fetch. */
export interface SwitchboardError {
  code: ErrorCode;
  message: string;
  channel?: string;
  /** HTTP status, for errors of the HTTP API. */
  status?: number;
}

/** WebSocket close codes: the standard ones we meet, and the 4xxx ones this client closes with. */
export const CLOSE = {
  NORMAL: 1000, // close(), and the old connection after a planned reconnect
  GOING_AWAY: 1001, // API Gateway: idle timeout or the 2-hour connection limit
  ABNORMAL: 1006, // no close frame: network drop, failed handshake (401/403)
  TOO_BIG: 1009, // a client frame over 32 KB
  HEARTBEAT_TIMEOUT: 4000, // no pong in time: the connection is dead
  CONNECT_TIMEOUT: 4001, // the handshake neither succeeded nor failed in time
  TOKEN_REFUSED: 4003, // a channel allowed before was refused (expired token): reconnect with a fresh one
} as const;

const HTTP_STATUS_CODES: Record<number, HttpErrorCode> = { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 429: 'rate_limited' };

/** The contract code of an error frame or body; an HTTP answer without one (a gateway's 429) goes by its status. */
export function errorCode(value: unknown, status?: number): ErrorCode {
  const all: readonly string[] = [...WS_ERROR_CODES, ...HTTP_ERROR_CODES];
  if (typeof value === 'string' && all.includes(value)) return value as ErrorCode;
  return (status !== undefined && HTTP_STATUS_CODES[status]) || 'internal';
}
