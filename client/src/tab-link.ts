import type { ClientFrame, ServerFrame } from './frames';
import { Hub } from './hub';
import type { Link, LinkOwner, SocketSettings, State } from './link';

type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of `navigator.locks` (Web Locks API) the sharing uses; tests pass a fake. */
export interface LocksLike {
  request<T>(name: string, options: { signal?: AbortSignal; steal?: boolean; ifAvailable?: boolean }, callback: (lock: unknown) => T | Promise<T>): Promise<T>;
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
  const Channel = share.BroadcastChannel ?? (globalThis as { BroadcastChannel?: new (name: string) => ChannelLike }).BroadcastChannel;
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
  readonly owner: LinkOwner;
  readonly timeout: number;
  id = '';
  private channel: ChannelLike | undefined;
  private hub: Hub | undefined;
  /** The leading tab this one follows, and since when it leads (a newer leader wins). */
  private leader: string | undefined;
  private leaderSince = 0;
  /** The leader's connection is live. */
  private live = false;
  private wasLive = false;
  /** When this follower first asked the leader without an answer since. */
  private asked: number | undefined;
  private checked = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Aborted by `stop()`: this tab's lock requests. */
  private life: AbortController | undefined;
  private electing: AbortController | undefined;
  private release: (() => void) | undefined;

  constructor(
    owner: LinkOwner,
    readonly settings: SocketSettings,
    share: ShareOptions,
    readonly locks: LocksLike,
    private readonly Channel: new (name: string) => ChannelLike,
  ) {
    this.name = `switchboard.${VERSION} ${settings.url} ${share.key}`;
    this.timeout = share.leaderTimeoutMs ?? 1000;
    this.owner = {
      ...owner,
      state: (state, conn) => {
        if (state === 'live') this.wasLive = true;
        owner.state(state, conn);
      },
    };
  }

  start(): void {
    if (this.life) return;
    const life = (this.life = new AbortController());
    this.id = Math.random().toString(36).slice(2, 10);
    this.leaderSince = 0;
    this.channel = new this.Channel(this.name);
    this.channel.onmessage = (e) => this.receive(e.data as TabMessage); // only this client version posts on this name
    // Held while this tab runs: a leader waiting for it hears at once when the tab is gone (closed, crashed).
    this.locks.request(`${this.name} ${this.id}`, { signal: life.signal }, () => new Promise((gone) => life.signal.addEventListener('abort', gone))).catch(noop);
    this.elect(false);
    this.checked = Date.now();
    this.timer = setInterval(() => this.check(), this.timeout / 2);
    this.post({ k: 'hi', f: this.id });
  }

  stop(): void {
    if (!this.life) return;
    this.life.abort();
    this.life = undefined;
    clearInterval(this.timer);
    this.electing?.abort();
    this.unlead(); // a leading tab releases the lock: the next tab takes over
    this.post({ k: 'bye', f: this.id });
    this.channel?.close();
    this.leader = undefined;
    this.live = false;
  }

  send(frame: ClientFrame): boolean {
    if (this.hub) return this.hub.up(this.id, frame);
    if (this.leader) this.post({ k: 'up', f: this.id, t: this.leader, m: frame });
    return this.live;
  }

  refresh(conn: string): void {
    if (this.hub) this.hub.refresh(conn);
    else if (this.leader) this.post({ k: 're', f: this.id, t: this.leader, c: conn });
  }

  post(message: TabMessage): void {
    this.channel?.postMessage(message);
  }

  // ---- election ----------------------------------------------------------------------------------

  /** Queues for the lock (or takes it from a silent leader: `steal`); holding it means leading. */
  private elect(steal: boolean): void {
    this.electing?.abort(); // a pending request of this tab gives way
    const ac = (this.electing = new AbortController());
    let held = false;
    this.locks
      .request(this.name, steal ? { steal } : { signal: ac.signal }, () => {
        held = true;
        return new Promise<void>((release) => {
          this.release = release;
          this.lead();
        });
      })
      .catch(noop)
      .then(() => {
        if (!held || this.electing !== ac) return;
        // Released by stop(), or stolen by a tab that found this one silent (frozen): follow again.
        this.unlead();
        if (!this.life) return;
        this.owner.state(this.wasLive ? 'reconnecting' : 'connecting');
        this.elect(false);
        this.post({ k: 'hi', f: this.id });
      });
  }

  private lead(): void {
    if (!this.life) return this.release?.();
    this.leader = this.id;
    this.hub = new Hub(this, this.wasLive);
  }

  private unlead(): void {
    this.release?.();
    this.release = undefined;
    this.hub?.stop();
    this.hub = undefined;
    if (this.leader === this.id) this.leader = undefined;
    this.live = false;
  }

  /**
   * Every timeout/2: a follower asks the leader (`hi`, answered at once with its state). Unanswered for
   * `timeout`, the leader is taken to be frozen and its lock is stolen, by one tab at a time.
   */
  private check(): void {
    const now = Date.now();
    // This timer ran very late: this tab was frozen or throttled, and what it asked before does not count.
    if (now - this.checked > 2 * this.timeout) this.asked = undefined;
    this.checked = now;
    if (this.hub) return;
    if (this.asked === undefined) this.asked = now;
    else if (now - this.asked >= this.timeout) this.takeover();
    this.post({ k: 'hi', f: this.id });
  }

  private silent(): boolean {
    return this.asked !== undefined && Date.now() - this.asked >= this.timeout;
  }

  private takeover(): void {
    this.locks
      .request(`${this.name} !takeover`, { ifAvailable: true }, (lock) => {
        if (!lock || !this.life || this.hub || !this.silent()) return;
        this.elect(true);
        // Held a while, so that another tab that found the leader silent hears the new one before it may try.
        return new Promise((done) => setTimeout(done, this.timeout));
      })
      .catch(noop);
  }

  // ---- messages from other tabs ------------------------------------------------------------------

  private receive(m: TabMessage): void {
    if (m.t !== undefined && m.t !== this.id) return;
    if (this.hub) return this.hub.receive(m);
    if (m.k === 'st') {
      if (m.f !== this.leader) {
        // A newer leader, or any leader once this one's went silent; never one that was frozen and lost its lock.
        if (m.e < this.leaderSince && !this.silent()) return;
        this.leader = m.f;
        this.leaderSince = m.e;
        this.post({ k: 'hi', f: this.id });
      }
      this.asked = undefined;
      this.live = m.s === 'live';
      this.owner.tabs?.(m.n, false);
      this.owner.state(m.s, m.c);
      if (m.q) this.owner.seqs?.(m.q);
    } else if (m.k === 'dn') {
      if (m.f === this.leader) this.asked = undefined;
      this.owner.frame(m.m, m.r);
    }
  }
}
