import type { ClientFrame, ServerFrame } from './frames';
import { Hub } from './hub';
import type { Link, LinkOwner, SocketSettings, State } from './link';

type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of `navigator.locks` (Web Locks API) the sharing uses; tests pass a fake. */
export interface LocksLike {
  request<T>(
    name: string,
    options: { signal?: AbortSignal; steal?: boolean; ifAvailable?: boolean },
    callback: (lock: unknown) => T | Promise<T>,
  ): Promise<T>;
}
/** The part of a `BroadcastChannel` the sharing uses; tests pass a fake. */
export interface ChannelLike {
  onmessage: Handler<{ data: unknown }> | null;
  postMessage(message: unknown): void;
  close(): void;
}

export interface ShareOptions {
  /** Tabs of this origin with the same key (and `url`) share one connection. Use the user id: two identities must never share. */
  key: string;
  /** A leading tab that answers nothing for this long (frozen, hung) is replaced. @default 1000 */
  leaderTimeoutMs?: number;
  /** @default navigator.locks */
  locks?: LocksLike;
  /** @default globalThis.BroadcastChannel */
  BroadcastChannel?: new (name: string) => ChannelLike;
}

/**
 * Messages between the tabs of one key (short field names: they are the whole wire format).
 * `f` is the sender's tab id, `t` the addressee (absent: every tab).
 */
export type TabMessage =
  /** follower → leader (any): here I am; also the follower's liveness check of the leader. */
  | { k: 'hi'; f: string; t?: undefined }
  /** follower → leader: this tab is going. */
  | { k: 'bye'; f: string; t?: undefined }
  /** follower → leader: a frame for the server. */
  | { k: 'up'; f: string; t: string; m: ClientFrame }
  /** follower → leader: reconnect with a fresh token, if `c` is still the connection. */
  | { k: 're'; f: string; t: string; c: string }
  /** leader → tabs: state `s` of connection `c`, `n` tabs, leading since `e`; `q` (answers to hi): channel seqs seen. */
  | { k: 'st'; f: string; t?: string; s: State; c?: string; n: number; e: number; q?: Record<string, number> }
  /** leader → tabs: a server frame (`r`: from a planned replacement connection). */
  | { k: 'dn'; f: string; t?: string; m: ServerFrame; r: boolean };

const noop = (): void => undefined;

/** In every lock and channel name: tabs running another version of these messages (an app deployed while tabs stayed open) never share. */
const VERSION = 1;

/** The sharing link for this tab, or undefined where the browser lacks Web Locks or BroadcastChannel. */
export function tabLink(owner: LinkOwner, settings: SocketSettings, share: ShareOptions): Link | undefined {
  const locks = share.locks ?? (globalThis as { navigator?: { locks?: LocksLike } }).navigator?.locks;
  const Channel =
    share.BroadcastChannel ?? (globalThis as { BroadcastChannel?: new (name: string) => ChannelLike }).BroadcastChannel;
  return locks && Channel ? new TabLink(owner, settings, share, locks, Channel) : undefined;
}

/**
 * One tab's side of a shared connection. Every tab asks for the same Web Lock; the tab that holds it
 * leads: its `Hub` owns the WebSocket and serves the others over a BroadcastChannel. The others follow:
 * their frames go to the leader, the leader's state and frames come back. When the leader goes, the
 * browser gives the lock to the next tab; a leader that stops answering (frozen) has its lock stolen.
 */
export class TabLink implements Link {
  readonly name: string;
  readonly _owner: LinkOwner;
  readonly _timeout: number;
  id = '';
  private _channel: ChannelLike | undefined;
  private _hub: Hub | undefined;
  /** The leading tab this one follows, and since when it leads (a newer leader wins). */
  private _leader: string | undefined;
  private _leaderSince = 0;
  /** The leader's connection is live. */
  private _live = false;
  private _wasLive = false;
  /** When this follower first asked the leader without an answer since. */
  private _asked: number | undefined;
  private _checked = 0;
  private _timer: ReturnType<typeof setInterval> | undefined;
  /** Aborted by `stop()`: this tab's lock requests. */
  private _life: AbortController | undefined;
  private _electing: AbortController | undefined;
  private _release: (() => void) | undefined;

  constructor(
    owner: LinkOwner,
    readonly _settings: SocketSettings,
    share: ShareOptions,
    readonly _locks: LocksLike,
    private readonly _Channel: new (name: string) => ChannelLike,
  ) {
    this.name = `switchboard.${VERSION} ${_settings.url} ${share.key}`;
    this._timeout = share.leaderTimeoutMs ?? 1000;
    this._owner = {
      ...owner,
      state: (state, conn) => {
        if (state === 'live') this._wasLive = true;
        owner.state(state, conn);
      },
    };
  }

  start(): void {
    if (this._life) return;
    const life = (this._life = new AbortController());
    this.id = Math.random().toString(36).slice(2, 10);
    this._leaderSince = 0;
    this._channel = new this._Channel(this.name);
    this._channel.onmessage = (e) => this._receive(e.data as TabMessage); // only this client version posts on this name
    // Held while this tab runs: a leader waiting for it hears at once when the tab is gone (closed, crashed).
    this._locks
      .request(
        `${this.name} ${this.id}`,
        { signal: life.signal },
        () => new Promise((gone) => life.signal.addEventListener('abort', gone)),
      )
      .catch(noop);
    this._elect(false);
    this._checked = Date.now();
    this._timer = setInterval(() => this._check(), this._timeout / 2);
    this._post({ k: 'hi', f: this.id });
  }

  stop(): void {
    if (!this._life) return;
    this._life.abort();
    this._life = undefined;
    clearInterval(this._timer);
    this._electing?.abort();
    this._unlead(); // a leading tab releases the lock: the next tab takes over
    this._post({ k: 'bye', f: this.id });
    this._channel?.close();
    this._leader = undefined;
    this._live = false;
  }

  send(frame: ClientFrame): boolean {
    if (this._hub) return this._hub._up(this.id, frame);
    if (this._leader) this._post({ k: 'up', f: this.id, t: this._leader, m: frame });
    return this._live;
  }

  _refresh(conn: string): void {
    if (this._hub) this._hub._refresh(conn);
    else if (this._leader) this._post({ k: 're', f: this.id, t: this._leader, c: conn });
  }

  _post(message: TabMessage): void {
    this._channel?.postMessage(message);
  }

  // ---- election ----------------------------------------------------------------------------------

  /** Queues for the lock (or takes it from a silent leader: `steal`); holding it means leading. */
  private _elect(steal: boolean): void {
    this._electing?.abort(); // a pending request of this tab gives way
    const ac = (this._electing = new AbortController());
    let held = false;
    void this._locks
      .request(this.name, steal ? { steal } : { signal: ac.signal }, () => {
        held = true;
        return new Promise<void>((release) => {
          this._release = release;
          this._lead();
        });
      })
      .catch(noop)
      .then(() => {
        if (!held || this._electing !== ac) return;
        // Released by stop(), or stolen by a tab that found this one silent (frozen): follow again.
        this._unlead();
        if (!this._life) return;
        this._owner.state(this._wasLive ? 'reconnecting' : 'connecting');
        this._elect(false);
        this._post({ k: 'hi', f: this.id });
      });
  }

  private _lead(): void {
    if (!this._life) return this._release?.();
    this._leader = this.id;
    this._hub = new Hub(this, this._wasLive);
  }

  private _unlead(): void {
    this._release?.();
    this._release = undefined;
    this._hub?.stop();
    this._hub = undefined;
    if (this._leader === this.id) this._leader = undefined;
    this._live = false;
  }

  /**
   * Every timeout/2: a follower asks the leader (`hi`, answered at once with its state). Unanswered for
   * `timeout`, the leader is taken to be frozen and its lock is stolen, by one tab at a time.
   */
  private _check(): void {
    const now = Date.now();
    // This timer ran very late: this tab was frozen or throttled, and what it asked before does not count.
    if (now - this._checked > 2 * this._timeout) this._asked = undefined;
    this._checked = now;
    if (this._hub) return;
    if (this._asked === undefined) this._asked = now;
    else if (now - this._asked >= this._timeout) this._takeover();
    this._post({ k: 'hi', f: this.id });
  }

  private _silent(): boolean {
    return this._asked !== undefined && Date.now() - this._asked >= this._timeout;
  }

  private _takeover(): void {
    this._locks
      .request(`${this.name} !takeover`, { ifAvailable: true }, (lock) => {
        if (!lock || !this._life || this._hub || !this._silent()) return;
        this._elect(true);
        // Held a while, so that another tab that found the leader silent hears the new one before it may try.
        return new Promise((done) => setTimeout(done, this._timeout));
      })
      .catch(noop);
  }

  // ---- messages from other tabs ------------------------------------------------------------------

  private _receive(m: TabMessage): void {
    if (m.t !== undefined && m.t !== this.id) return;
    if (this._hub) return this._hub._receive(m);
    if (m.k === 'st') {
      if (m.f !== this._leader) {
        // A newer leader, or any leader once this one's went silent; never one that was frozen and lost its lock.
        if (m.e < this._leaderSince && !this._silent()) return;
        this._leader = m.f;
        this._leaderSince = m.e;
        this._post({ k: 'hi', f: this.id });
      }
      this._asked = undefined;
      this._live = m.s === 'live';
      this._owner.tabs?.(m.n, false);
      this._owner.state(m.s, m.c);
      if (m.q) this._owner.seqs?.(m.q);
    } else if (m.k === 'dn') {
      if (m.f === this._leader) this._asked = undefined;
      this._owner.frame(m.m, m.r);
    }
  }
}
