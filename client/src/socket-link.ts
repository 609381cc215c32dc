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
  private current: State = 'connecting';
  private readonly hooks: ConnectionHooks = {
    open: (conn) => this.opened(conn),
    frame: (conn, frame) => this.onFrame(conn, frame),
    ended: (conn) => this.ended(conn),
  };
  /** The live connection, or the attempt to get one. */
  private conn: Connection | undefined;
  /** A planned replacement of `conn`, open but not yet subscribed to everything. */
  private next: Connection | undefined;
  /** Frame ids of the subscribes on `next` not answered yet. */
  private readonly awaitingAcks = new Set<string>();
  private attempt = 0;
  private failures = 0;
  /** Main connections opened so far: names each one for the owner. */
  private opens = 0;
  private stopped = true;
  private online = true;
  private unwatch: (() => void) | undefined;
  /** Bumped by teardown: a connect still awaiting its token is abandoned. */
  private generation = 0;
  private reconnectTimer: Timer | undefined;
  private rotateTimer: Timer | undefined;
  private swapTimer: Timer | undefined;

  constructor(
    private readonly owner: LinkOwner,
    private readonly settings: SocketSettings,
    /** A connection was live before (in this tab, or the one that led): waiting is `reconnecting`. */
    private wasLive = false,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const { network } = this.settings;
    this.online = network?.online() ?? true;
    this.unwatch = network?.watch((online) => this.setOnline(online));
    this.begin();
  }

  stop(): void {
    this.stopped = true;
    this.unwatch?.();
    this.unwatch = undefined;
    this.teardown();
    this.setState('offline');
  }

  send(frame: ClientFrame): boolean {
    if (this.next?.opened) {
      this.next.send(frame);
      if (frame.action === 'subscribe') this.awaitingAcks.add(frame.id);
      if (frame.action === 'unsubscribe' && this.awaitingAcks.delete(frame.id) && this.awaitingAcks.size === 0) this.swap();
    }
    if (!this.conn?.opened) return false;
    this.conn.send(frame);
    return true;
  }

  refresh(): void {
    if (this.conn?.opened) this.conn.abort(CLOSE.TOKEN_REFUSED);
  }

  // ---- state -------------------------------------------------------------------------------------

  private setState(next: State): void {
    if (next === this.current) return;
    this.current = next;
    this.owner.state(next, next === 'live' ? String(this.opens) : undefined);
  }

  /** The state while there is no open WebSocket. */
  private waitingState(): State {
    if (this.failures >= this.settings.timing.failuresBeforePolling) return 'polling';
    return this.wasLive ? 'reconnecting' : 'connecting';
  }

  private begin(): void {
    if (!this.online) return this.setState('offline');
    this.attempt = 0;
    this.failures = 0;
    this.setState(this.waitingState());
    void this.dial(false);
  }

  private setOnline(online: boolean): void {
    this.online = online;
    if (this.stopped) return;
    if (!online) {
      this.teardown();
      this.setState('offline');
    } else if (this.current === 'offline') {
      this.begin();
    }
  }

  private teardown(): void {
    this.generation++;
    for (const timer of [this.reconnectTimer, this.rotateTimer, this.swapTimer]) clearTimeout(timer);
    this.conn?.close();
    this.next?.close();
    this.conn = this.next = undefined;
    this.awaitingAcks.clear();
  }

  // ---- WebSocket lifecycle -----------------------------------------------------------------------

  /** Opens a WebSocket with a fresh token: the main one, or (`rotation`) its planned replacement. */
  private async dial(rotation: boolean): Promise<void> {
    const generation = this.generation;
    const { url, getToken, Socket, timing } = this.settings;
    let conn: Connection | undefined;
    try {
      const token = await getToken();
      if (generation !== this.generation || (rotation && !this.conn?.opened)) return;
      conn = new Connection(new Socket(`${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`), this.hooks, timing);
    } catch {
      if (generation !== this.generation) return;
    }
    if (rotation) {
      this.next = conn;
      if (!conn) this.scheduleRotation(timing.reconnectCapMs);
    } else {
      this.conn = conn;
      if (!conn) this.retry(true);
    }
  }

  private opened(conn: Connection): void {
    if (conn === this.next) {
      // Planned replacement: subscribe everything with `since`; swap once every channel is answered.
      for (const frame of this.owner.resubscribe()) {
        if (frame.action === 'subscribe') this.awaitingAcks.add(frame.id);
        conn.send(frame);
      }
      if (this.awaitingAcks.size === 0) this.swap();
      else this.swapTimer = setTimeout(() => this.swap(), this.settings.timing.connectTimeoutMs);
      return;
    }
    this.attempt = 0;
    this.failures = 0;
    this.wasLive = true;
    this.opens++;
    this.setState('live');
    this.scheduleRotation(this.settings.timing.maxConnectionMs);
  }

  private ended(conn: Connection): void {
    if (conn === this.next) {
      this.next = undefined;
      this.awaitingAcks.clear();
      clearTimeout(this.swapTimer);
      this.scheduleRotation(this.settings.timing.reconnectCapMs);
      return;
    }
    if (conn !== this.conn) return;
    this.conn = undefined;
    clearTimeout(this.rotateTimer);
    if (this.next) {
      // The replacement takes over: already subscribed if open, else it goes live when it opens.
      const next = this.next;
      this.next = undefined;
      this.awaitingAcks.clear();
      clearTimeout(this.swapTimer);
      this.conn = next;
      if (next.opened) this.scheduleRotation(this.settings.timing.maxConnectionMs);
      else this.setState('reconnecting');
      return;
    }
    this.retry(!conn.opened);
  }

  /** Waits a backoff delay, then dials again (the state says polling once too many opens failed in a row). */
  private retry(failedToOpen: boolean): void {
    if (failedToOpen) this.failures++;
    this.setState(this.waitingState());
    const { reconnectBaseMs: baseMs, reconnectCapMs: capMs } = this.settings.timing;
    const delay = backoffDelay(this.attempt++, { baseMs, capMs, random: this.settings.random });
    this.reconnectTimer = setTimeout(() => void this.dial(false), delay);
  }

  private scheduleRotation(delay: number): void {
    clearTimeout(this.rotateTimer);
    this.rotateTimer = setTimeout(() => {
      if (this.conn?.opened && !this.next) void this.dial(true);
    }, delay);
  }

  /** The replacement is subscribed: it becomes the connection, and only now the old one closes. */
  private swap(): void {
    const next = this.next;
    if (!next) return;
    clearTimeout(this.swapTimer);
    this.awaitingAcks.clear();
    const old = this.conn;
    this.conn = next;
    this.next = undefined;
    old?.close(CLOSE.NORMAL, 'rotated');
    this.scheduleRotation(this.settings.timing.maxConnectionMs);
  }

  private onFrame(conn: Connection, frame: ServerFrame): void {
    this.owner.frame(frame, conn === this.next);
    if (conn === this.next && (frame.type === 'subscribed' || frame.type === 'error') && frame.id !== undefined && this.awaitingAcks.delete(frame.id) && this.awaitingAcks.size === 0) this.swap();
  }
}
