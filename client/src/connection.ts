import { CLOSE } from './codes';
import { parseServerFrame, type ClientFrame, type ServerFrame } from './frames';

// Handler slots typed so the DOM's WebSocket (MessageEvent, CloseEvent) and a test fake both fit.
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of a browser WebSocket the client uses: the global `WebSocket` fits, and so does a test fake. */
export interface SocketLike {
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number }> | null;
  onerror: Handler<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type SocketConstructor = new (url: string) => SocketLike;

export interface ConnectionTiming {
  connectTimeoutMs: number;
  pingIntervalMs: number;
  pongTimeoutMs: number;
}

export interface ConnectionHooks {
  open(conn: Connection): void;
  frame(conn: Connection, frame: ServerFrame): void;
  /** The socket ended by itself (server, network, heartbeat or connect timeout); never after `close()`. */
  ended(conn: Connection, code: number): void;
}

/**
 * One WebSocket and its timers: a connect timeout until it opens, then the heartbeat (`ping` every
 * `pingIntervalMs`; no `pong` within `pongTimeoutMs` means the connection is dead).
 */
export class Connection {
  opened = false;
  private done = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly socket: SocketLike,
    private readonly hooks: ConnectionHooks,
    private readonly timing: ConnectionTiming,
  ) {
    socket.onopen = () => {
      this.opened = true;
      this.schedulePing();
      hooks.open(this);
    };
    socket.onmessage = (event) => {
      const frame = parseServerFrame(event.data);
      if (frame?.type === 'pong') this.schedulePing();
      if (frame) hooks.frame(this, frame);
    };
    socket.onclose = (event) => this.end(event.code, false);
    socket.onerror = () => undefined; // a close event follows every error
    this.timer = setTimeout(() => this.end(CLOSE.CONNECT_TIMEOUT, true), timing.connectTimeoutMs);
  }

  send(frame: ClientFrame): void {
    try {
      this.socket.send(JSON.stringify(frame));
    } catch {
      // not open (any more): the close event brings the reconnect
    }
  }

  /** Closes on our initiative; the hooks hear nothing more from this connection. */
  close(code: number = CLOSE.NORMAL, reason = ''): void {
    this.dispose(code, reason);
  }

  /** Gives up on this connection: it closes, and the hooks hear `ended` as if the server had closed it. */
  abort(code: number): void {
    this.end(code, true);
  }

  private end(code: number, closeSocket: boolean): void {
    if (this.done) return;
    this.dispose(closeSocket ? code : undefined, '');
    this.hooks.ended(this, code);
  }

  private dispose(code: number | undefined, reason: string): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    const s = this.socket;
    s.onopen = s.onmessage = s.onclose = s.onerror = null;
    if (code !== undefined) {
      try {
        s.close(code, reason);
      } catch {
        // already closing
      }
    }
  }

  private schedulePing(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = setTimeout(() => this.end(CLOSE.HEARTBEAT_TIMEOUT, true), this.timing.pongTimeoutMs);
      this.send({ action: 'ping' });
    }, this.timing.pingIntervalMs);
  }
}
