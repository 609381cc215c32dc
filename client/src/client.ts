import { ChannelState } from './channel-state';
import { errorCode, type ErrorCode, type SwitchboardError } from './codes';
import type { SocketConstructor } from './connection';
import { CHANNEL_NAME, isEvent, subscribeFrame, type EventFrame, type EventsResponse, type ServerFrame } from './frames';
import type { Link, LinkOwner, NetworkMonitor, State, Timing } from './link';
import { LruMap } from './lru';
import { SocketLink } from './socket-link';
import { tabLink, type ShareOptions } from './tab-link';

export type { NetworkMonitor, State, Timing } from './link';

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
  /** With `share`: how many tabs share the connection (this one included), and whether this tab leads. */
  tabs: (count: number, leading: boolean) => void;
}

export type FetchLike = (url: string, init: { headers: Record<string, string> }) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

export interface SwitchboardOptions extends Partial<Timing> {
  /** WebSocket URL (`wss://…`); `?token=` is added on each connect. */
  url: string;
  /** HTTP API base URL, for polling (`/version`, `/events`). */
  httpUrl: string;
  /** Called on every connect and HTTP request; resolve a fresh JWT. With `share`, the leading tab's is used for the connection. */
  getToken: () => Promise<string>;
  /**
   * One connection for all tabs of this origin with the same `key` (use the user id: two identities
   * must never share). `false` or absent: this tab has its own connection. Without Web Locks or
   * BroadcastChannel in the browser, each tab has its own connection too.
   */
  share?: ShareOptions | false;
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
  private readonly httpUrl: string;
  private readonly getToken: () => Promise<string>;
  private readonly fetch: FetchLike;
  private readonly listeners: Listeners = { state: new Set(), event: new Set(), reset: new Set(), error: new Set(), subscribed: new Set(), tabs: new Set() };
  private readonly channels = new Map<string, Channel>();
  /** Event id → handlers that already got it. */
  private readonly delivered: LruMap<string, Set<EventHandler>>;
  private readonly owner: LinkOwner = {
    state: (state, conn) => this.linkState(state, conn),
    frame: (frame, rotation) => this.onFrame(frame, rotation),
    resubscribe: () => [...this.channels].map(([name, ch]) => subscribeFrame(name, ch.state.last)),
    tabs: (count, leading) => {
      if (count === this.tabCount && leading === this.leading) return;
      this.tabCount = count;
      this.leading = leading;
      this.emit('tabs', count, leading);
    },
    seqs: (seqs) => {
      for (const [name, seq] of Object.entries(seqs)) {
        const ch = this.channels.get(name);
        if (ch?.state.last !== undefined) this.settle(name, ch, ch.state.known(seq));
      }
    },
  };
  private readonly link: Link;
  /** The connection every channel was last subscribed on. */
  private conn: string | undefined;
  private stopped = true;
  private pollRun = 0;
  private pollTimer: Timer | undefined;
  private polling = false;
  /** Tabs sharing the connection, this one included (1 without `share`). */
  tabCount = 1;
  /** This tab holds the connection (always, without `share`). */
  leading = true;

  constructor(options: SwitchboardOptions) {
    const Socket = options.WebSocket ?? (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
    if (!Socket) throw new TypeError('no WebSocket in this environment: pass options.WebSocket');
    this.httpUrl = options.httpUrl.replace(/\/+$/, '');
    this.getToken = options.getToken;
    this.fetch = options.fetch ?? ((url, init) => fetch(url, init));
    const timing = { ...DEFAULTS };
    for (const key of Object.keys(DEFAULTS) as (keyof Timing)[]) timing[key] = options[key] ?? DEFAULTS[key];
    this.timing = timing;
    this.delivered = new LruMap(timing.dedupeSize);
    const settings = {
      url: options.url,
      getToken: options.getToken,
      Socket,
      random: options.random ?? Math.random,
      network: options.network === undefined ? browserNetwork() : options.network,
      timing,
    };
    this.link = (options.share && tabLink(this.owner, settings, options.share)) || new SocketLink(this.owner, settings);
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
      this.link.send(subscribeFrame(channel, ch.state.last));
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
    this.link.send({ action: 'unsubscribe', channel, id: channel });
  }

  /** Starts (again) after `close()`; a no-op while running. The constructor calls it. */
  connect(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.link.start();
  }

  /** Closes everything and stays `offline` until `connect()`. With `share`, a leading tab hands the connection over. */
  close(): void {
    this.stopped = true;
    this.link.stop();
    this.linkState('offline');
  }

  // ---- state -------------------------------------------------------------------------------------

  private setState(next: State): void {
    if (next === this.current) return;
    const previous = this.current;
    this.current = next;
    this.emit('state', next, previous);
  }

  /** The link's state is the client's; a connection not seen before gets every channel subscribed (with `since`). */
  private linkState(state: State, conn?: string): void {
    if (state === 'polling') this.startPolling();
    else this.stopPolling();
    if (state === 'offline') {
      for (const ch of this.channels.values()) {
        clearTimeout(ch.gapTimer);
        ch.gapTimer = undefined;
      }
    }
    this.setState(state);
    if (state === 'live' && conn !== this.conn) {
      this.conn = conn;
      for (const [name, ch] of this.channels) this.link.send(subscribeFrame(name, ch.state.last));
    }
  }

  // ---- frames, order and dedupe ------------------------------------------------------------------

  private onFrame(frame: ServerFrame, rotation: boolean): void {
    switch (frame.type) {
      case 'event':
        return this.onEvent(frame);
      case 'subscribed': {
        const ch = this.channels.get(frame.channel);
        if (ch) {
          ch.refused = false;
          this.known(frame.channel, ch, frame.seq);
        }
        return;
      }
      case 'reset':
        return this.onReset(frame.channel, frame.seq);
      case 'pong':
        // The server's seqs: a channel whose last event never came is a gap, recovered like any other.
        return this.owner.seqs?.(frame.seqs ?? {});
      case 'error': {
        const code = errorCode(frame.code);
        this.emit('error', { code, message: String(frame.message), ...(frame.id === undefined ? {} : { channel: frame.id }) });
        if (frame.id !== undefined) this.refused(frame.id, code, rotation);
        return;
      }
      default:
        return; // unsubscribed
    }
  }

  /**
   * A subscribe was refused (errors carry the channel as `id`). `internal` is retried on the next
   * connection. `forbidden` for a channel that was allowed before usually means the token expired:
   * reconnect once with a fresh one. Anything else cannot succeed by retrying: the channel is dropped.
   */
  private refused(name: string, code: ErrorCode, rotation: boolean): void {
    const ch = this.channels.get(name);
    if (!ch || code === 'internal') return;
    if (code === 'forbidden' && !rotation && this.conn !== undefined && ch.state.last !== undefined && !ch.refused) {
      ch.refused = true;
      return this.link.refresh(this.conn);
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

  /**
   * History does not cover what the channel missed. A reset for a channel without a baseline yet, or
   * for the position it is already at, is no news (with `share`, it answered another tab's
   * resubscribe) and is ignored.
   */
  private onReset(name: string, seq: number): void {
    const ch = this.channels.get(name);
    if (ch?.state.last === undefined || ch.state.last === seq) return;
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
      if (!this.link.send(subscribeFrame(name, ch.state.last))) {
        if (!this.polling) return; // between connections: the resubscribe with `since` recovers
        void this.fetchEvents(name, ch);
      }
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
