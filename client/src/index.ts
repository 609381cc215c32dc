export { SwitchboardClient } from './client';
export type {
  ClientEvents,
  EventHandler,
  FetchLike,
  NetworkMonitor,
  Presence,
  State,
  SwitchboardOptions,
  Timing,
} from './client';
export type { SocketConstructor, SocketLike } from './connection';
export type { EventFrame, Member } from './frames';
export type { ChannelLike, LocksLike, ShareOptions } from './tab-link';
export { backoffDelay } from './backoff';
export { CLOSE, HTTP_ERROR_CODES, WS_ERROR_CODES } from './codes';
export type { ErrorCode, HttpErrorCode, SwitchboardError, WsErrorCode } from './codes';
