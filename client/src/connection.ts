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
  _ended(conn: Connection, code: number): void;
}

/**
 * One WebSocket and its timers: a connect timeout until it opens, then the heartbeat (`ping` every
 * `pingIntervalMs`; no `pong` within `pongTimeoutMs` means the connection is dead).
 */
export class Connection {
  _opened = false;
  private _done = false;
  private _timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly _socket: SocketLike,
    private readonly _hooks: ConnectionHooks,
    private readonly _timing: ConnectionTiming,
  ) {
    _socket.onopen = () => {
      this._opened = true;
      this._schedulePing();
      _hooks.open(this);
    };
    _socket.onmessage = (event) => {
      const frame = parseServerFrame(event.data);
      if (frame?.type === 'pong') this._schedulePing();
      if (frame) _hooks.frame(this, frame);
    };
    _socket.onclose = (event) => this._end(event.code, false);
    _socket.onerror = () => undefined; // a close event follows every error
    this._timer = setTimeout(() => this._end(CLOSE.CONNECT_TIMEOUT, true), _timing.connectTimeoutMs);
  }

  send(frame: ClientFrame): void {
    try {
      this._socket.send(JSON.stringify(frame));
    } catch {
      // not open (any more): the close event brings the reconnect
    }
  }

  /** Closes on our initiative; the hooks hear nothing more from this connection. */
  close(code: number = CLOSE.NORMAL, reason = ''): void {
    this._dispose(code, reason);
  }

  /** Gives up on this connection: it closes, and the hooks hear `ended` as if the server had closed it. */
  abort(code: number): void {
    this._end(code, true);
  }

  private _end(code: number, closeSocket: boolean): void {
    if (this._done) return;
    this._dispose(closeSocket ? code : undefined, '');
    this._hooks._ended(this, code);
  }

  private _dispose(code: number | undefined, reason: string): void {
    if (this._done) return;
    this._done = true;
    clearTimeout(this._timer);
    const s = this._socket;
    s.onopen = s.onmessage = s.onclose = s.onerror = null;
    if (code !== undefined) {
      try {
        s.close(code, reason);
      } catch {
        // already closing
      }
    }
  }

  private _schedulePing(): void {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => {
      this._timer = setTimeout(() => this._end(CLOSE.HEARTBEAT_TIMEOUT, true), this._timing.pongTimeoutMs);
      this.send({ action: 'ping' });
    }, this._timing.pingIntervalMs);
  }
}
