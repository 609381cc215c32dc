import type { SocketConstructor } from './connection';
import type { ClientFrame, ServerFrame } from './frames';

/** The one connection state; every change goes through the client's `setState` and is announced by `on('state')`. */
export type State = 'connecting' | 'live' | 'reconnecting' | 'polling' | 'offline';

/**
 * What carries the client's frames to the server: its own WebSocket (`SocketLink`), or the connection
 * of the tab that leads (`TabLink`). The client keeps the channels; a link keeps the connection.
 */
export interface Link {
  start(): void;
  stop(): void;
  /** Sends a frame to the server; true when a live connection took it. */
  send(frame: ClientFrame): boolean;
  /** Reconnects with a fresh token, if `conn` is still the connection (a channel allowed before was refused). */
  _refresh(conn: string): void;
}

/** What a link reports to the one that owns it (the client, or a leading tab's hub). */
export interface LinkOwner {
  /** Every state change; `conn` names the live connection (a new name means: subscribe everything again). */
  state(state: State, conn?: string): void;
  /** A server frame; `rotation` when it came on a planned replacement that is still being subscribed. */
  frame(frame: ServerFrame, rotation: boolean): void;
  /** Subscribe frames (with `since`) for every channel, to put on a planned replacement connection. */
  _resubscribe(): ClientFrame[];
  /** How many tabs share the connection, and whether this one leads. */
  tabs?(count: number, leading: boolean): void;
  /** Channel seqs the leading tab has seen: a tab that is behind notices the gap and recovers. */
  seqs?(seqs: Record<string, number>): void;
}

/** Tells the client when the device goes off- and online. The default listens to `navigator.onLine` and window events. */
export interface NetworkMonitor {
  online(): boolean;
  /** Starts listening; returns the function that stops it. */
  watch(listener: (online: boolean) => void): () => void;
}

export interface Timing {
  /** First reconnect delay ceiling (full jitter). @default 500 */
  reconnectBaseMs: number;
  /** Largest reconnect delay ceiling. @default 30000 */
  reconnectCapMs: number;
  /** A handshake that has neither opened nor failed by then counts as failed. @default 10000 */
  connectTimeoutMs: number;
  /** Heartbeat period, well inside API Gateway's 10-minute idle timeout. @default 300000 (5 min) */
  pingIntervalMs: number;
  /** No `pong` this long after a `ping`: the connection is dead. @default 10000 */
  pongTimeoutMs: number;
  /** Planned replacement of the connection, before API Gateway's 2-hour limit. @default 6600000 (1 h 50 min) */
  maxConnectionMs: number;
  /** WebSocket opens that fail in a row before polling starts. @default 3 */
  failuresBeforePolling: number;
  /** `GET /version` period while polling. @default 7000 */
  pollIntervalMs: number;
  /** How long an event after a gap waits for the missing ones before recovery. @default 1000 */
  gapHoldMs: number;
  /** Event ids remembered for dedupe. @default 1000 */
  dedupeSize: number;
}

/** The resolved options a WebSocket link needs. */
export interface SocketSettings {
  url: string;
  getToken: () => Promise<string>;
  Socket: SocketConstructor;
  random: () => number;
  network: NetworkMonitor | null;
  timing: Timing;
}
