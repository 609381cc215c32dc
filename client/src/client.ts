import { ChannelState } from './channel-state';
import { errorCode, type ErrorCode, type SwitchboardError } from './codes';
import type { SocketConstructor } from './connection';
import {
  CHANNEL_NAME_PATTERN,
  isEvent,
  presenceFrame,
  subscribeFrame,
  type EventFrame,
  type EventsResponse,
  type Member,
  type MemberFrame,
  type PresenceFrame,
  type ServerFrame,
} from './frames';
import type { Link, LinkOwner, NetworkMonitor, State, Timing } from './link';
import { LruMap } from './lru';
import { SocketLink } from './socket-link';
import { tabLink, type ShareOptions } from './tab-link';

export type { NetworkMonitor, State, Timing } from './link';

/** Who is online on a presence channel (protocol §8): the users, and how many connections they have there. */
export interface Presence {
  members: Member[];
  occupancy: number;
}

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
  /** A user's first connection subscribed to a presence channel this client is subscribed to. */
  join: (channel: string, member: Member) => void;
  /** A user's last connection left a presence channel this client is subscribed to. */
  leave: (channel: string, member: Member) => void;
  /** A channel's member list was loaded: answering `presence(channel)`, and again after every reconnect. */
  presence: (channel: string, presence: Presence) => void;
}

export type FetchLike = (
  url: string,
  init: { headers: Record<string, string> },
) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

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
  _handlers: Set<EventHandler>;
  _gapTimer?: Timer;
  _recoveries: number;
  /** A `forbidden` answer already made us reconnect with a fresh token; a second one drops the channel. */
  _refused?: boolean;
}

class HttpFailure extends Error {
  constructor(readonly _info: SwitchboardError) {
    super(_info.message);
  }
}

export class SwitchboardClient {
  private _current: State = 'connecting';
  private readonly _timing: Timing;
  private readonly _httpUrl: string;
  private readonly _getToken: () => Promise<string>;
  private readonly _fetch: FetchLike;
  private readonly _listeners: Partial<Listeners> = {};
  private readonly _channels = new Map<string, Channel>();
  /** Channels whose member list is kept (asked with `presence()`): sub → member. */
  private readonly _rosters = new Map<string, Map<string, Member>>();
  /** Per channel asked and not answered yet: the `presence()` calls waiting, and the join/leave frames meanwhile (applied again after the answer). */
  private readonly _asked = new Map<
    string,
    [[(p: Presence) => void, (e: SwitchboardError) => void][], MemberFrame[]]
  >();
  /** Event id → handlers that already got it. */
  private readonly _delivered: LruMap<string, Set<EventHandler>>;
  private readonly _owner: LinkOwner = {
    state: (state, conn) => this._linkState(state, conn),
    frame: (frame, rotation) => this._onFrame(frame, rotation),
    _resubscribe: () => [...this._channels].map(([name, ch]) => subscribeFrame(name, ch.state.last)),
    tabs: (count, leading) => {
      if (count === this.tabCount && leading === this.leading) return;
      this.tabCount = count;
      this.leading = leading;
      this._emit('tabs', count, leading);
    },
    seqs: (seqs) => {
      for (const [name, seq] of Object.entries(seqs)) {
        const ch = this._channels.get(name);
        if (ch?.state.last !== undefined) this._settle(name, ch, ch.state.known(seq));
      }
    },
  };
  private readonly _link: Link;
  /** The connection every channel was last subscribed on. */
  private _conn: string | undefined;
  private _stopped = true;
  private _pollRun = 0;
  private _pollTimer: Timer | undefined;
  private _polling = false;
  /** Tabs sharing the connection, this one included (1 without `share`). */
  tabCount = 1;
  /** This tab holds the connection (always, without `share`). */
  leading = true;

  constructor(options: SwitchboardOptions) {
    const Socket = options.WebSocket ?? (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
    if (!Socket) throw new TypeError('no WebSocket in this environment: pass options.WebSocket');
    this._httpUrl = options.httpUrl.replace(/\/+$/, '');
    this._getToken = options.getToken;
    this._fetch = options.fetch ?? ((url, init) => fetch(url, init));
    const timing = { ...DEFAULTS };
    for (const key of Object.keys(DEFAULTS) as (keyof Timing)[]) timing[key] = options[key] ?? DEFAULTS[key];
    this._timing = timing;
    this._delivered = new LruMap(timing.dedupeSize);
    const settings = {
      url: options.url,
      getToken: options.getToken,
      Socket,
      random: options.random ?? Math.random,
      network: options.network === undefined ? browserNetwork() : options.network,
      timing,
    };
    this._link =
      (options.share && tabLink(this._owner, settings, options.share)) || new SocketLink(this._owner, settings);
    this.connect();
  }

  get state(): State {
    return this._current;
  }

  on<K extends keyof ClientEvents>(type: K, listener: ClientEvents[K]): () => void {
    const set = (this._listeners[type] ??= new Set() as Listeners[K]);
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * Who is online on `channel` (a presence channel the token may subscribe). From then on the
   * client keeps the channel's member list (`members(channel)`) current from `join` and `leave` while
   * subscribed, and loads it again after every reconnect (`presence` event). Rejects with the
   * server's error (`forbidden`; `bad_request` when the channel has no presence).
   */
  presence(channel: string): Promise<Presence> {
    return new Promise((resolve, reject) => {
      const asked = this._asked.get(channel);
      if (asked) asked[0].push([resolve, reject]);
      else this._ask(channel, [[resolve, reject]]);
    });
  }

  /** The member list kept for `channel` (after `presence(channel)`), in no particular order. */
  members(channel: string): Member[] {
    return [...(this._rosters.get(channel)?.values() ?? [])];
  }

  /** Subscribes `handler` to `channel`; the returned function removes it (and the subscription with the last handler). */
  subscribe(channel: string, handler: EventHandler): () => void {
    if (!CHANNEL_NAME_PATTERN.test(channel))
      throw new TypeError(`invalid channel name "${channel}": must match ${CHANNEL_NAME_PATTERN.source}`);
    let ch = this._channels.get(channel);
    if (!ch) {
      ch = { state: new ChannelState(), _handlers: new Set(), _recoveries: 0 };
      this._channels.set(channel, ch);
      this._link.send(subscribeFrame(channel, ch.state.last));
    }
    const sub = ch;
    sub._handlers.add(handler);
    return () => {
      if (this._channels.get(channel) === sub && sub._handlers.delete(handler) && sub._handlers.size === 0)
        this.unsubscribe(channel);
    };
  }

  unsubscribe(channel: string): void {
    const ch = this._channels.get(channel);
    if (!ch) return;
    clearTimeout(ch._gapTimer);
    this._channels.delete(channel);
    this._link.send({ action: 'unsubscribe', channel, id: channel });
  }

  /** Starts (again) after `close()`; a no-op while running. The constructor calls it. */
  connect(): void {
    if (!this._stopped) return;
    this._stopped = false;
    this._link.start();
  }

  /** Closes everything and stays `offline` until `connect()`. With `share`, a leading tab hands the connection over. */
  close(): void {
    this._stopped = true;
    this._link.stop();
    this._linkState('offline');
  }

  // ---- state -------------------------------------------------------------------------------------

  private _setState(next: State): void {
    if (next === this._current) return;
    const previous = this._current;
    this._current = next;
    this._emit('state', next, previous);
  }

  /** The link's state is the client's; a connection not seen before gets every channel subscribed (with `since`). */
  private _linkState(state: State, conn?: string): void {
    if (state === 'polling') this._startPolling();
    else this._stopPolling();
    if (state === 'offline') {
      for (const ch of this._channels.values()) {
        clearTimeout(ch._gapTimer);
        ch._gapTimer = undefined;
      }
    }
    this._setState(state);
    if (state === 'live' && conn !== this._conn) {
      this._conn = conn;
      for (const [name, ch] of this._channels) this._link.send(subscribeFrame(name, ch.state.last));
      // Join and leave frames are not replayed: the member lists are loaded again.
      for (const name of this._rosters.keys()) this._ask(name, this._asked.get(name)?.[0]);
    }
  }

  // ---- frames, order and dedupe ------------------------------------------------------------------

  private _onFrame(frame: ServerFrame, rotation: boolean): void {
    switch (frame.type) {
      case 'event':
        return this._onEvent(frame);
      case 'subscribed': {
        const ch = this._channels.get(frame.channel);
        if (ch) {
          ch._refused = false;
          this._known(frame.channel, ch, frame.seq);
        }
        return;
      }
      case 'reset':
        return this._onReset(frame.channel, frame.seq);
      case 'presence':
        return this._loaded(frame);
      case 'join':
      case 'leave': {
        // Not for another tab's channel; and during a planned reconnect the old connection brings them.
        if (rotation || !this._channels.has(frame.channel)) return;
        this._asked.get(frame.channel)?.[1].push(frame);
        this._member(frame);
        return this._emit(frame.type, frame.channel, frame.member);
      }
      case 'pong':
        // The server's seqs: a channel whose last event never came is a gap, recovered like any other.
        return this._owner.seqs?.(frame.seqs ?? {});
      case 'error': {
        const code = errorCode(frame.code);
        const error = { code, message: String(frame.message) };
        if (frame.id?.[0] === '?') return this._refusedPresence(frame.id.slice(1), error);
        this._emit('error', { ...error, ...(frame.id === undefined ? {} : { channel: frame.id }) });
        if (frame.id !== undefined) this._refused(frame.id, code, rotation);
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
  private _refused(name: string, code: ErrorCode, rotation: boolean): void {
    const ch = this._channels.get(name);
    if (!ch || code === 'internal') return;
    if (code === 'forbidden' && !rotation && this._conn !== undefined && ch.state.last !== undefined && !ch._refused) {
      ch._refused = true;
      return this._link._refresh(this._conn);
    }
    clearTimeout(ch._gapTimer);
    this._channels.delete(name);
  }

  // ---- presence ----------------------------------------------------------------------------------

  /** Sends `presence` (HTTP while polling); the channel's list is kept from now on. */
  private _ask(channel: string, calls: [(p: Presence) => void, (e: SwitchboardError) => void][] = []): void {
    if (!this._rosters.has(channel)) this._rosters.set(channel, new Map());
    this._asked.set(channel, [calls, []]);
    if (!this._link.send(presenceFrame(channel)) && this._polling) {
      this._http<PresenceFrame>(`/presence?channel=${encodeURIComponent(channel)}`).then(
        (f) => this._loaded({ ...f, channel }),
        (err: unknown) => err instanceof HttpFailure && this._refusedPresence(channel, err._info),
      );
    }
  }

  /** A member list: the answer replaces the kept one, then the joins and leaves that came meanwhile apply again. */
  private _loaded(f: PresenceFrame): void {
    const roster = this._rosters.get(f.channel);
    if (!roster) return;
    const [calls, meanwhile] = this._asked.get(f.channel) ?? [[], []];
    this._asked.delete(f.channel);
    roster.clear();
    for (const m of f.members) roster.set(m.sub, m);
    meanwhile.forEach((m) => this._member(m));
    const p = { members: [...roster.values()], occupancy: f.occupancy };
    for (const [resolve] of calls) resolve(p);
    this._emit('presence', f.channel, p);
  }

  private _member(f: MemberFrame): void {
    const roster = this._rosters.get(f.channel);
    if (f.type === 'join') roster?.set(f.member.sub, f.member);
    else roster?.delete(f.member.sub);
  }

  /** `presence` was refused (`forbidden`, `bad_request`): the callers hear why, and the list is no longer kept. */
  private _refusedPresence(channel: string, error: SwitchboardError): void {
    for (const [, reject] of this._asked.get(channel)?.[0] ?? []) reject(error);
    this._asked.delete(channel);
    this._rosters.delete(channel);
  }

  private _onEvent(frame: EventFrame): void {
    for (const [name, seq] of Object.entries(frame.seqs)) {
      const ch = this._channels.get(name);
      if (ch) this._settle(name, ch, ch.state.offer(seq, frame));
    }
  }

  /**
   * History does not cover what the channel missed. A reset for a channel without a baseline yet, or
   * for the position it is already at, is no news (with `share`, it answered another tab's
   * resubscribe) and is ignored.
   */
  private _onReset(name: string, seq: number): void {
    const ch = this._channels.get(name);
    if (ch?.state.last === undefined || ch.state.last === seq) return;
    ch._recoveries = 0;
    const events = ch.state.reset(seq);
    this._emit('reset', name, seq);
    this._settle(name, ch, events);
  }

  /** The server says the channel is at `seq`; the first time, that is the channel's baseline. */
  private _known(name: string, ch: Channel, seq: number): void {
    const first = ch.state.last === undefined;
    const events = ch.state.known(seq);
    if (first) this._emit('subscribed', name, seq);
    this._settle(name, ch, events);
  }

  /** Delivers what became deliverable, then (re)considers the channel's gap timer. */
  private _settle(name: string, ch: Channel, events: EventFrame[]): void {
    for (const event of events) if (this._channels.get(name) === ch) this._deliver(name, ch, event);
    if (this._channels.get(name) !== ch) return;
    if (!ch.state.gap) {
      clearTimeout(ch._gapTimer);
      ch._gapTimer = undefined;
      ch._recoveries = 0;
    } else if (ch._gapTimer === undefined) {
      ch._gapTimer = setTimeout(() => this._gapTimedOut(name, ch), this._timing.gapHoldMs);
    }
  }

  /** Each handler gets an event (by `id`) once, whichever of its channels it came on; so does `on('event')`. */
  private _deliver(name: string, ch: Channel, event: EventFrame): void {
    let called = this._delivered.get(event.id);
    const first = called === undefined;
    if (!called) this._delivered.set(event.id, (called = new Set()));
    for (const handler of [...ch._handlers]) {
      if (called.has(handler)) continue;
      called.add(handler);
      safely(() => handler(event, name));
    }
    if (first) this._emit('event', event);
  }

  /** The missing events did not come in time: ask the server again, and after that give up with `reset`. */
  private _gapTimedOut(name: string, ch: Channel): void {
    ch._gapTimer = undefined;
    if (this._channels.get(name) !== ch || !ch.state.gap) return;
    if (ch._recoveries++ < GAP_RECOVERIES) {
      if (!this._link.send(subscribeFrame(name, ch.state.last))) {
        if (!this._polling) return; // between connections: the resubscribe with `since` recovers
        void this._fetchEvents(name, ch);
      }
      return this._settle(name, ch, []);
    }
    const { seq, events } = ch.state.skip();
    ch._recoveries = 0;
    this._emit('reset', name, seq);
    this._settle(name, ch, events);
  }

  // ---- polling fallback --------------------------------------------------------------------------

  private _startPolling(): void {
    if (this._polling) return;
    this._polling = true;
    void this._pollLoop(++this._pollRun);
  }

  private _stopPolling(): void {
    this._polling = false;
    this._pollRun++;
    clearTimeout(this._pollTimer);
  }

  private async _pollLoop(run: number): Promise<void> {
    await this._poll();
    if (run === this._pollRun)
      this._pollTimer = setTimeout(() => void this._pollLoop(run), this._timing.pollIntervalMs);
  }

  /** `GET /version` for every channel; channels whose version grew fetch what they missed. */
  private async _poll(): Promise<void> {
    const names = [...this._channels.keys()];
    if (names.length === 0) return;
    let versions: Record<string, unknown>;
    try {
      versions = (
        await this._http<{ versions: Record<string, unknown> }>(
          `/version?channels=${names.map(encodeURIComponent).join(',')}`,
        )
      ).versions;
    } catch (err) {
      return this._httpFailed(err);
    }
    for (const [name, version] of Object.entries(versions ?? {})) {
      const ch = this._channels.get(name);
      if (!ch || typeof version !== 'number') continue;
      this._known(name, ch, version);
      if (ch.state.gap) await this._fetchEvents(name, ch);
    }
  }

  private async _fetchEvents(name: string, ch: Channel): Promise<void> {
    const since = ch.state.last;
    if (since === undefined) return;
    try {
      const res = await this._http<EventsResponse>(`/events?channel=${encodeURIComponent(name)}&since=${since}`);
      if (this._channels.get(name) !== ch) return;
      if (res.reset) return this._onReset(name, res.seq);
      for (const event of res.events ?? []) if (isEvent(event)) this._onEvent(event);
      this._settle(name, ch, ch.state.known(res.seq));
    } catch (err) {
      this._httpFailed(err, name);
    }
  }

  private async _http<T>(path: string): Promise<T> {
    const token = await this._getToken();
    const res = await this._fetch(this._httpUrl + path, { headers: { authorization: `Bearer ${token}` } });
    const body: unknown = await res.json().catch(() => undefined);
    if (res.ok) return body as T;
    const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const message = typeof error?.message === 'string' ? error.message : `HTTP ${res.status}`;
    throw new HttpFailure({ code: errorCode(error?.code, res.status), message, status: res.status });
  }

  /** HTTP errors are reported; network failures are not (the state already says polling, the next poll retries). */
  private _httpFailed(err: unknown, channel?: string): void {
    if (err instanceof HttpFailure) this._emit('error', channel === undefined ? err._info : { ...err._info, channel });
  }

  private _emit<K extends keyof ClientEvents>(type: K, ...args: Parameters<ClientEvents[K]>): void {
    for (const listener of [...(this._listeners[type] ?? [])])
      safely(() => (listener as (...a: Parameters<ClientEvents[K]>) => void)(...args));
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
