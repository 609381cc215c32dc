/**
 * Every error and close code the client deals in, in one place (protocol §3 and §5).
 */

import {
  HTTP_ERROR_CODES,
  HTTP_ERROR_STATUS,
  WS_ERROR_CODES,
  type HttpErrorCode,
  type WsErrorCode,
} from '../../shared/wire';

/** The contract's codes (shared/wire.ts, shared with the server). */
export { HTTP_ERROR_CODES, WS_ERROR_CODES, type HttpErrorCode, type WsErrorCode };
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

/** The contract code of an error frame or body; an HTTP answer without one (a gateway's 429) goes by its status. */
export function errorCode(value: unknown, status?: number): ErrorCode {
  const all: readonly string[] = [...WS_ERROR_CODES, ...HTTP_ERROR_CODES];
  if (typeof value === 'string' && all.includes(value)) return value as ErrorCode;
  return HTTP_ERROR_CODES.find((code) => HTTP_ERROR_STATUS[code] === status) ?? 'internal';
}
