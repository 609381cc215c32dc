import { backoffDelay } from './backoff';
import { ChannelState } from './channel-state';
import { CLOSE, errorCode, type ErrorCode, type SwitchboardError } from './codes';
import { Connection, type ConnectionHooks, type SocketConstructor } from './connection';
import { CHANNEL_NAME, isEvent, type ClientFrame, type EventFrame, type EventsResponse, type ServerFrame } from './frames';
import { LruMap } from './lru';

/** The one connection state; every change goes through `setState` and is announced by `on('state')`. */
export type State = 'connecting' | 'live' | 'reconnecting' | 'polling' | 'offline';

/** Receives each event of its channels once (also when subscribed to several of them), with the channel it came on. */
export type EventHandler = (event: EventFrame, channel: string) => void;

export interface ClientEvents {
  state: (state: State, previous: State) => void;
  /** Every event once (by `id`), whichever channels it came on. */
  event: (event: EventFrame) => void;
  /** History no longer covers what this channel missed: refetch its state; events after `seq` follow. */
  reset: (channel: string, seq: number) => void;
  /**
   * The channel's starting point is known (first `subscribed` reply, or first `/version` poll):
   * events after `seq` will follow. Load the app's state for the channel now, not before.
   */
  subscribed: (channel: string, seq: number) => void;
  error: (error: SwitchboardError) => void;
}

export type FetchLike = (url: string, init: { headers: Record<string, string> }) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

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

export interface SwitchboardOptions extends Partial<Timing> {
  /** WebSocket URL (`wss://…`); `?token=` is added on each connect. */
  url: string;
  /** HTTP API base URL, for polling (`/version`, `/events`). */
  httpUrl: string;
  /** Called on every connect and HTTP request; resolve a fresh JWT. */
  getToken: () => Promise<string>;
  /** @default globalThis.WebSocket */
  WebSocket?: SocketConstructor;
  /** @default globalThis.fetch */
  fetch?: FetchLike;
  /** @default Math.random */
  random?: () => number;
  /** `null` ignores the network status. @default navigator.onLine and window online/offline events, when present */
  network?: NetworkMonitor | null;
}

const DEFAULTS: Timing = {
  reconnectBaseMs: 500,
  reconnectCapMs: 30_000,
  connectTimeoutMs: 10_000,
  pingIntervalMs: 5 * 60_000,
  pongTimeoutMs: 10_000,
  maxConnectionMs: 110 * 60_000,
  failuresBeforePolling: 3,
  pollIntervalMs: 7_000,
  gapHoldMs: 1_000,
  dedupeSize: 1_000,
};

/** Recovery attempts (re-subscribe with `since`, or `GET /events`) for one gap before giving up with `reset`. */
const GAP_RECOVERIES = 2;

type Timer = ReturnType<typeof setTimeout>;
type Listeners = { [K in keyof ClientEvents]: Set<ClientEvents[K]> };

interface Channel {
  state: ChannelState;
  handlers: Set<EventHandler>;
  gapTimer?: Timer;
  recoveries: number;
  /** A `forbidden` answer already made us reconnect with a fresh token; a second one drops the channel. */
  refused?: boolean;
}

class HttpFailure extends Error {
  constructor(readonly info: SwitchboardError) {
    super(info.message);
  }
}

export class SwitchboardClient {
  private current: State = 'connecting';
  private readonly timing: Timing;
  private readonly url: string;
  private readonly httpUrl: string;
  private readonly getToken: () => Promise<string>;
  private readonly Socket: SocketConstructor;
  private readonly fetch: FetchLike;
  private readonly random: () => number;
  private readonly network: NetworkMonitor | null;
  private readonly listeners: Listeners = { state: new Set(), event: new Set(), reset: new Set(), error: new Set(), subscribed: new Set() };
  private readonly channels = new Map<string, Channel>();
  /** Event id → handlers that already got it. */
  private readonly delivered: LruMap<string, Set<EventHandler>>;
  private readonly hooks: ConnectionHooks = {
    open: (conn) => this.opened(conn),
    frame: (conn, frame) => this.onFrame(conn, frame),
    ended: (conn) => this.ended(conn),
  };

  /** The live connection, or the attempt to get one. */
  private conn: Connection | undefined;
  /** A planned replacement of `conn`, open but not yet subscribed to everything. */
  private next: Connection | undefined;
  private readonly awaitingAcks = new Set<string>();
  private attempt = 0;
  private failures = 0;
  private wasLive = false;
  private stopped = true;
  private online = true;
  private unwatch: (() => void) | undefined;
  /** Bumped by teardown: a connect still awaiting its token is abandoned. */
  private generation = 0;
  private reconnectTimer: Timer | undefined;
  private rotateTimer: Timer | undefined;
  private swapTimer: Timer | undefined;
  private pollRun = 0;
  private pollTimer: Timer | undefined;
  private polling = false;

  constructor(options: SwitchboardOptions) {
    const Socket = options.WebSocket ?? (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
    if (!Socket) throw new TypeError('no WebSocket in this environment: pass options.WebSocket');
    this.Socket = Socket;
    this.url = options.url;
    this.httpUrl = options.httpUrl.replace(/\/+$/, '');
    this.getToken = options.getToken;
    this.fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.random = options.random ?? Math.random;
    this.network = options.network === undefined ? browserNetwork() : options.network;
    const timing = { ...DEFAULTS };
    for (const key of Object.keys(DEFAULTS) as (keyof Timing)[]) timing[key] = options[key] ?? DEFAULTS[key];
    this.timing = timing;
    this.delivered = new LruMap(timing.dedupeSize);
    this.connect();
  }

  get state(): State {
    return this.current;
  }

  on<K extends keyof ClientEvents>(type: K, listener: ClientEvents[K]): () => void {
    this.listeners[type].add(listener);
    return () => this.listeners[type].delete(listener);
  }

  /** Subscribes `handler` to `channel`; the returned function removes it (and the subscription with the last handler). */
  subscribe(channel: string, handler: EventHandler): () => void {
    if (!CHANNEL_NAME.test(channel)) throw new TypeError(`invalid channel name "${channel}": must match ${CHANNEL_NAME.source}`);
    let ch = this.channels.get(channel);
    if (!ch) {
      ch = { state: new ChannelState(), handlers: new Set(), recoveries: 0 };
      this.channels.set(channel, ch);
      if (this.conn?.opened) this.conn.send(subscribeFrame(channel, ch));
      if (this.next?.opened) {
        this.next.send(subscribeFrame(channel, ch));
        this.awaitingAcks.add(channel);
      }
    }
    const sub = ch;
    sub.handlers.add(handler);
    return () => {
      if (this.channels.get(channel) === sub && sub.handlers.delete(handler) && sub.handlers.size === 0) this.unsubscribe(channel);
    };
  }

  unsubscribe(channel: string): void {
    const ch = this.channels.get(channel);
    if (!ch) return;
    clearTimeout(ch.gapTimer);
    this.channels.delete(channel);
    for (const conn of [this.conn, this.next]) if (conn?.opened) conn.send({ action: 'unsubscribe', channel, id: channel });
    if (this.awaitingAcks.delete(channel) && this.awaitingAcks.size === 0) this.swap();
  }

  /** Starts (again) after `close()`; a no-op while running. The constructor calls it. */
  connect(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.online = this.network?.online() ?? true;
    this.unwatch = this.network?.watch((online) => this.setOnline(online));
    this.start();
  }

  /** Closes everything and stays `offline` until `connect()`. */
  close(): void {
    this.stopped = true;
    this.unwatch?.();
    this.unwatch = undefined;
    this.teardown();
    this.setState('offline');
  }

  // ---- state -------------------------------------------------------------------------------------

  private setState(next: State): void {
    if (next === this.current) return;
    const previous = this.current;
    this.current = next;
    this.emit('state', next, previous);
  }

  /** The state while there is no open WebSocket. */
  private waitingState(): State {
    if (this.failures >= this.timing.failuresBeforePolling) return 'polling';
    return this.wasLive ? 'reconnecting' : 'connecting';
  }

  private start(): void {
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
      this.start();
    }
  }

  private teardown(): void {
    this.generation++;
    for (const timer of [this.reconnectTimer, this.rotateTimer, this.swapTimer]) clearTimeout(timer);
    this.stopPolling();
    this.conn?.close();
    this.next?.close();
    this.conn = this.next = undefined;
    this.awaitingAcks.clear();
    for (const ch of this.channels.values()) {
      clearTimeout(ch.gapTimer);
      ch.gapTimer = undefined;
    }
  }

  // ---- WebSocket lifecycle -----------------------------------------------------------------------

  /** Opens a WebSocket with a fresh token: the main one, or (`rotation`) its planned replacement. */
  private async dial(rotation: boolean): Promise<void> {
    const generation = this.generation;
    let conn: Connection | undefined;
    try {
      const token = await this.getToken();
      if (generation !== this.generation || (rotation && !this.conn?.opened)) return;
      const url = `${this.url}${this.url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
      conn = new Connection(new this.Socket(url), this.hooks, this.timing);
    } catch {
      if (generation !== this.generation) return;
    }
    if (rotation) {
      this.next = conn;
      if (!conn) this.scheduleRotation(this.timing.reconnectCapMs);
    } else {
      this.conn = conn;
      if (!conn) this.retry(true);
    }
  }

  private opened(conn: Connection): void {
    if (conn === this.next) {
      // Planned replacement: subscribe everything with `since`; swap once every channel is answered.
      for (const name of this.channels.keys()) this.awaitingAcks.add(name);
      this.subscribeAll(conn);
      if (this.awaitingAcks.size === 0) this.swap();
      else this.swapTimer = setTimeout(() => this.swap(), this.timing.connectTimeoutMs);
      return;
    }
    this.attempt = 0;
    this.failures = 0;
    this.wasLive = true;
    this.stopPolling();
    this.setState('live');
    this.subscribeAll(conn);
    this.scheduleRotation(this.timing.maxConnectionMs);
  }

  private ended(conn: Connection): void {
    if (conn === this.next) {
      this.next = undefined;
      this.awaitingAcks.clear();
      clearTimeout(this.swapTimer);
      this.scheduleRotation(this.timing.reconnectCapMs);
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
      if (next.opened) this.scheduleRotation(this.timing.maxConnectionMs);
      else this.setState('reconnecting');
      return;
    }
    this.retry(!conn.opened);
  }

  /** Waits a backoff delay, then dials again; polls meanwhile once too many opens failed in a row. */
  private retry(failedToOpen: boolean): void {
    if (failedToOpen) this.failures++;
    this.setState(this.waitingState());
    if (this.current === 'polling') this.startPolling();
    const delay = backoffDelay(this.attempt++, { baseMs: this.timing.reconnectBaseMs, capMs: this.timing.reconnectCapMs, random: this.random });
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
    this.scheduleRotation(this.timing.maxConnectionMs);
  }

  private subscribeAll(conn: Connection): void {
    for (const [name, ch] of this.channels) conn.send(subscribeFrame(name, ch));
  }

  private acked(conn: Connection, channel: string): void {
    if (conn === this.next && this.awaitingAcks.delete(channel) && this.awaitingAcks.size === 0) this.swap();
  }

  // ---- frames, order and dedupe ------------------------------------------------------------------

  private onFrame(conn: Connection, frame: ServerFrame): void {
    switch (frame.type) {
      case 'event':
        return this.onEvent(frame);
      case 'subscribed': {
        const ch = this.channels.get(frame.channel);
        if (ch) {
          ch.refused = false;
          this.known(frame.channel, ch, frame.seq);
        }
        return this.acked(conn, frame.channel);
      }
      case 'reset':
        return this.onReset(frame.channel, frame.seq);
      case 'error': {
        const code = errorCode(frame.code);
        this.emit('error', { code, message: String(frame.message), ...(frame.id === undefined ? {} : { channel: frame.id }) });
        if (frame.id === undefined) return;
        this.acked(conn, frame.id);
        return this.refused(conn, frame.id, code);
      }
      default:
        return; // pong (the connection keeps its own heartbeat), unsubscribed
    }
  }

  /**
   * A subscribe was refused (errors carry the channel as `id`). `internal` is retried on the next
   * connection. `forbidden` for a channel that was allowed before usually means the token expired:
   * reconnect once with a fresh one. Anything else cannot succeed by retrying: the channel is dropped.
   */
  private refused(conn: Connection, name: string, code: ErrorCode): void {
    const ch = this.channels.get(name);
    if (!ch || code === 'internal') return;
    if (code === 'forbidden' && conn === this.conn && ch.state.last !== undefined && !ch.refused) {
      ch.refused = true;
      return conn.abort(CLOSE.TOKEN_REFUSED);
    }
    clearTimeout(ch.gapTimer);
    this.channels.delete(name);
  }

  private onEvent(frame: EventFrame): void {
    for (const [name, seq] of Object.entries(frame.seqs)) {
      const ch = this.channels.get(name);
      if (ch) this.settle(name, ch, ch.state.offer(seq, frame));
    }
  }

  private onReset(name: string, seq: number): void {
    const ch = this.channels.get(name);
    if (!ch) return;
    ch.recoveries = 0;
    const events = ch.state.reset(seq);
    this.emit('reset', name, seq);
    this.settle(name, ch, events);
  }

  /** The server says the channel is at `seq`; the first time, that is the channel's baseline. */
  private known(name: string, ch: Channel, seq: number): void {
    const first = ch.state.last === undefined;
    const events = ch.state.known(seq);
    if (first) this.emit('subscribed', name, seq);
    this.settle(name, ch, events);
  }

  /** Delivers what became deliverable, then (re)considers the channel's gap timer. */
  private settle(name: string, ch: Channel, events: EventFrame[]): void {
    for (const event of events) if (this.channels.get(name) === ch) this.deliver(name, ch, event);
    if (this.channels.get(name) !== ch) return;
    if (!ch.state.gap) {
      clearTimeout(ch.gapTimer);
      ch.gapTimer = undefined;
      ch.recoveries = 0;
    } else if (ch.gapTimer === undefined) {
      ch.gapTimer = setTimeout(() => this.gapTimedOut(name, ch), this.timing.gapHoldMs);
    }
  }

  /** Each handler gets an event (by `id`) once, whichever of its channels it came on; so does `on('event')`. */
  private deliver(name: string, ch: Channel, event: EventFrame): void {
    let called = this.delivered.get(event.id);
    const first = called === undefined;
    if (!called) this.delivered.set(event.id, (called = new Set()));
    for (const handler of [...ch.handlers]) {
      if (called.has(handler)) continue;
      called.add(handler);
      safely(() => handler(event, name));
    }
    if (first) this.emit('event', event);
  }

  /** The missing events did not come in time: ask the server again, and after that give up with `reset`. */
  private gapTimedOut(name: string, ch: Channel): void {
    ch.gapTimer = undefined;
    if (this.channels.get(name) !== ch || !ch.state.gap) return;
    if (ch.recoveries++ < GAP_RECOVERIES) {
      if (this.conn?.opened) this.conn.send(subscribeFrame(name, ch));
      else if (this.polling) void this.fetchEvents(name, ch);
      else return; // between connections: the resubscribe with `since` recovers
      return this.settle(name, ch, []);
    }
    const { seq, events } = ch.state.skip();
    ch.recoveries = 0;
    this.emit('reset', name, seq);
    this.settle(name, ch, events);
  }

  // ---- polling fallback --------------------------------------------------------------------------

  private startPolling(): void {
    if (this.polling) return;
    this.polling = true;
    void this.pollLoop(++this.pollRun);
  }

  private stopPolling(): void {
    this.polling = false;
    this.pollRun++;
    clearTimeout(this.pollTimer);
  }

  private async pollLoop(run: number): Promise<void> {
    await this.poll();
    if (run === this.pollRun) this.pollTimer = setTimeout(() => void this.pollLoop(run), this.timing.pollIntervalMs);
  }

  /** `GET /version` for every channel; channels whose version grew fetch what they missed. */
  private async poll(): Promise<void> {
    const names = [...this.channels.keys()];
    if (names.length === 0) return;
    let versions: Record<string, unknown>;
    try {
      versions = (await this.http<{ versions: Record<string, unknown> }>(`/version?channels=${names.map(encodeURIComponent).join(',')}`)).versions;
    } catch (err) {
      return this.httpFailed(err);
    }
    for (const [name, version] of Object.entries(versions ?? {})) {
      const ch = this.channels.get(name);
      if (!ch || typeof version !== 'number') continue;
      this.known(name, ch, version);
      if (ch.state.gap) await this.fetchEvents(name, ch);
    }
  }

  private async fetchEvents(name: string, ch: Channel): Promise<void> {
    const since = ch.state.last;
    if (since === undefined) return;
    try {
      const res = await this.http<EventsResponse>(`/events?channel=${encodeURIComponent(name)}&since=${since}`);
      if (this.channels.get(name) !== ch) return;
      if (res.reset) return this.onReset(name, res.seq);
      for (const event of res.events ?? []) if (isEvent(event)) this.onEvent(event);
      this.settle(name, ch, ch.state.known(res.seq));
    } catch (err) {
      this.httpFailed(err, name);
    }
  }

  private async http<T>(path: string): Promise<T> {
    const token = await this.getToken();
    const res = await this.fetch(this.httpUrl + path, { headers: { authorization: `Bearer ${token}` } });
    const body: unknown = await res.json().catch(() => undefined);
    if (res.ok) return body as T;
    const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const message = typeof error?.message === 'string' ? error.message : `HTTP ${res.status}`;
    throw new HttpFailure({ code: errorCode(error?.code, res.status), message, status: res.status });
  }

  /** HTTP errors are reported; network failures are not (the state already says polling, the next poll retries). */
  private httpFailed(err: unknown, channel?: string): void {
    if (err instanceof HttpFailure) this.emit('error', channel === undefined ? err.info : { ...err.info, channel });
  }

  private emit<K extends keyof ClientEvents>(type: K, ...args: Parameters<ClientEvents[K]>): void {
    for (const listener of [...this.listeners[type]]) safely(() => (listener as (...a: Parameters<ClientEvents[K]>) => void)(...args));
  }
}

function subscribeFrame(channel: string, ch: Channel): ClientFrame {
  const since = ch.state.last;
  return since === undefined ? { action: 'subscribe', channel, id: channel } : { action: 'subscribe', channel, since, id: channel };
}

/** A throwing listener must not break the client: report it asynchronously, as browsers do for event listeners. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    setTimeout(() => {
      throw err;
    });
  }
}

function browserNetwork(): NetworkMonitor | null {
  if (typeof navigator === 'undefined' || typeof addEventListener !== 'function') return null;
  return {
    online: () => navigator.onLine !== false,
    watch(listener) {
      const up = (): void => listener(true);
      const down = (): void => listener(false);
      addEventListener('online', up);
      addEventListener('offline', down);
      return () => {
        removeEventListener('online', up);
        removeEventListener('offline', down);
      };
    },
  };
}
