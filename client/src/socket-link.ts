import { backoffDelay } from './backoff';
import { CLOSE } from './codes';
import { Connection, type ConnectionHooks } from './connection';
import type { ClientFrame, ServerFrame } from './frames';
import type { Link, LinkOwner, SocketSettings, State } from './link';

type Timer = ReturnType<typeof setTimeout>;

/**
 * The client's own WebSocket: connect with a fresh token, reconnect with backoff, poll after too many
 * failed opens, follow the network, and replace the connection before API Gateway's 2-hour limit.
 * It reports states and frames to its owner, which keeps the channels.
 */
export class SocketLink implements Link {
  private _current: State = 'connecting';
  private readonly _hooks: ConnectionHooks = {
    open: (conn) => this._opened(conn),
    frame: (conn, frame) => this._onFrame(conn, frame),
    _ended: (conn) => this._ended(conn),
  };
  /** The live connection, or the attempt to get one. */
  private _conn: Connection | undefined;
  /** A planned replacement of `conn`, open but not yet subscribed to everything. */
  private _next: Connection | undefined;
  /** Frame ids of the subscribes on `next` not answered yet. */
  private readonly _awaitingAcks = new Set<string>();
  private _attempt = 0;
  private _failures = 0;
  /** Main connections opened so far: names each one for the owner. */
  private _opens = 0;
  private _stopped = true;
  private _online = true;
  private _unwatch: (() => void) | undefined;
  /** Bumped by teardown: a connect still awaiting its token is abandoned. */
  private _generation = 0;
  private _reconnectTimer: Timer | undefined;
  private _rotateTimer: Timer | undefined;
  private _swapTimer: Timer | undefined;

  constructor(
    private readonly _owner: LinkOwner,
    private readonly _settings: SocketSettings,
    /** A connection was live before (in this tab, or the one that led): waiting is `reconnecting`. */
    private _wasLive = false,
  ) {}

  start(): void {
    if (!this._stopped) return;
    this._stopped = false;
    const { network } = this._settings;
    this._online = network?.online() ?? true;
    this._unwatch = network?.watch((online) => this._setOnline(online));
    this._begin();
  }

  stop(): void {
    this._stopped = true;
    this._unwatch?.();
    this._unwatch = undefined;
    this._teardown();
    this._setState('offline');
  }

  send(frame: ClientFrame): boolean {
    if (this._next?._opened) {
      this._next.send(frame);
      if (frame.action === 'subscribe') this._awaitingAcks.add(frame.id);
      if (frame.action === 'unsubscribe' && this._awaitingAcks.delete(frame.id) && this._awaitingAcks.size === 0)
        this._swap();
    }
    if (!this._conn?._opened) return false;
    this._conn.send(frame);
    return true;
  }

  _refresh(): void {
    if (this._conn?._opened) this._conn.abort(CLOSE.TOKEN_REFUSED);
  }

  // ---- state -------------------------------------------------------------------------------------

  private _setState(next: State): void {
    if (next === this._current) return;
    this._current = next;
    this._owner.state(next, next === 'live' ? String(this._opens) : undefined);
  }

  /** The state while there is no open WebSocket. */
  private _waitingState(): State {
    if (this._failures >= this._settings.timing.failuresBeforePolling) return 'polling';
    return this._wasLive ? 'reconnecting' : 'connecting';
  }

  private _begin(): void {
    if (!this._online) return this._setState('offline');
    this._attempt = 0;
    this._failures = 0;
    this._setState(this._waitingState());
    void this._dial(false);
  }

  private _setOnline(online: boolean): void {
    this._online = online;
    if (this._stopped) return;
    if (!online) {
      this._teardown();
      this._setState('offline');
    } else if (this._current === 'offline') {
      this._begin();
    }
  }

  private _teardown(): void {
    this._generation++;
    for (const timer of [this._reconnectTimer, this._rotateTimer, this._swapTimer]) clearTimeout(timer);
    this._conn?.close();
    this._next?.close();
    this._conn = this._next = undefined;
    this._awaitingAcks.clear();
  }

  // ---- WebSocket lifecycle -----------------------------------------------------------------------

  /** Opens a WebSocket with a fresh token: the main one, or (`rotation`) its planned replacement. */
  private async _dial(rotation: boolean): Promise<void> {
    const generation = this._generation;
    const { url, getToken, Socket, timing } = this._settings;
    let conn: Connection | undefined;
    try {
      const token = await getToken();
      if (generation !== this._generation || (rotation && !this._conn?._opened)) return;
      conn = new Connection(
        new Socket(`${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`),
        this._hooks,
        timing,
      );
    } catch {
      if (generation !== this._generation) return;
    }
    if (rotation) {
      this._next = conn;
      if (!conn) this._scheduleRotation(timing.reconnectCapMs);
    } else {
      this._conn = conn;
      if (!conn) this._retry(true);
    }
  }

  private _opened(conn: Connection): void {
    if (conn === this._next) {
      // Planned replacement: subscribe everything with `since`; swap once every channel is answered.
      for (const frame of this._owner._resubscribe()) {
        if (frame.action === 'subscribe') this._awaitingAcks.add(frame.id);
        conn.send(frame);
      }
      if (this._awaitingAcks.size === 0) this._swap();
      else this._swapTimer = setTimeout(() => this._swap(), this._settings.timing.connectTimeoutMs);
      return;
    }
    this._attempt = 0;
    this._failures = 0;
    this._wasLive = true;
    this._opens++;
    this._setState('live');
    this._scheduleRotation(this._settings.timing.maxConnectionMs);
  }

  private _ended(conn: Connection): void {
    if (conn === this._next) {
      this._next = undefined;
      this._awaitingAcks.clear();
      clearTimeout(this._swapTimer);
      this._scheduleRotation(this._settings.timing.reconnectCapMs);
      return;
    }
    if (conn !== this._conn) return;
    this._conn = undefined;
    clearTimeout(this._rotateTimer);
    if (this._next) {
      // The replacement takes over: already subscribed if open, else it goes live when it opens.
      const next = this._next;
      this._next = undefined;
      this._awaitingAcks.clear();
      clearTimeout(this._swapTimer);
      this._conn = next;
      if (next._opened) this._scheduleRotation(this._settings.timing.maxConnectionMs);
      else this._setState('reconnecting');
      return;
    }
    this._retry(!conn._opened);
  }

  /** Waits a backoff delay, then dials again (the state says polling once too many opens failed in a row). */
  private _retry(failedToOpen: boolean): void {
    if (failedToOpen) this._failures++;
    this._setState(this._waitingState());
    const { reconnectBaseMs: baseMs, reconnectCapMs: capMs } = this._settings.timing;
    const delay = backoffDelay(this._attempt++, { baseMs, capMs, random: this._settings.random });
    this._reconnectTimer = setTimeout(() => void this._dial(false), delay);
  }

  private _scheduleRotation(delay: number): void {
    clearTimeout(this._rotateTimer);
    this._rotateTimer = setTimeout(() => {
      if (this._conn?._opened && !this._next) void this._dial(true);
    }, delay);
  }

  /** The replacement is subscribed: it becomes the connection, and only now the old one closes. */
  private _swap(): void {
    const next = this._next;
    if (!next) return;
    clearTimeout(this._swapTimer);
    this._awaitingAcks.clear();
    const old = this._conn;
    this._conn = next;
    this._next = undefined;
    old?.close(CLOSE.NORMAL, 'rotated');
    this._scheduleRotation(this._settings.timing.maxConnectionMs);
  }

  private _onFrame(conn: Connection, frame: ServerFrame): void {
    this._owner.frame(frame, conn === this._next);
    if (
      conn === this._next &&
      (frame.type === 'subscribed' || frame.type === 'error') &&
      frame.id !== undefined &&
      this._awaitingAcks.delete(frame.id) &&
      this._awaitingAcks.size === 0
    )
      this._swap();
  }
}
