import { subscribeFrame, type ClientFrame, type ServerFrame } from './frames';
import type { LinkOwner, State } from './link';
import { SocketLink } from './socket-link';
import type { TabLink, TabMessage } from './tab-link';

/**
 * The leading tab's side of a shared connection: one WebSocket (a `SocketLink`) for every tab of the
 * key. Channels are the union of the tabs' channels, reference-counted: one is unsubscribed only when
 * its last tab lets go (or is gone: the hub waits on each tab's own lock). Replies go to the tab that
 * asked (its id is put in front of the frame `id`), events and state to every tab; each tab orders and
 * deduplicates for itself.
 */
export class Hub implements LinkOwner {
  private readonly _link: SocketLink;
  /** Channel → ids of the tabs that want it. */
  private readonly _refs = new Map<string, Set<string>>();
  /** Channel → highest seq seen on the connection: `since` for a planned replacement, and a gap hint for the tabs. */
  private readonly _seen: Record<string, number> = {};
  private readonly _members = new Set<string>();
  private readonly _life = new AbortController();
  private readonly _since = Date.now();
  private _current: State = 'connecting';
  private _conn: string | undefined;

  constructor(
    private readonly _tab: TabLink,
    wasLive: boolean,
  ) {
    this._link = new SocketLink(this, _tab._settings, wasLive);
    this._link.start();
  }

  /** Closes the connection without a word to the other tabs: the next leader speaks to them. */
  stop(): void {
    this._life.abort();
    this._link.stop();
  }

  _refresh(conn: string): void {
    if (conn === this._conn) this._link._refresh();
  }

  // ---- the connection ----------------------------------------------------------------------------

  state(state: State, conn?: string): void {
    if (this._life.signal.aborted) return;
    this._current = state;
    this._conn = conn && `${this._tab.id}.${conn}`;
    this._announce();
    this._tab._owner.state(state, this._conn);
  }

  frame(frame: ServerFrame, rotation: boolean): void {
    if (frame.type === 'event') for (const [channel, seq] of Object.entries(frame.seqs)) this._saw(channel, seq);
    if (frame.type === 'subscribed') this._saw(frame.channel, frame.seq);
    if (frame.type === 'reset') this._seen[frame.channel] = frame.seq;
    // A reply names the tab that asked in front of its id (event ids are the publisher's: never parsed).
    let to: string | undefined;
    let out = frame;
    if (frame.type !== 'event' && frame.id?.includes(' ')) {
      const cut = frame.id.indexOf(' ');
      to = frame.id.slice(0, cut);
      out = { ...frame, id: frame.id.slice(cut + 1) };
    }
    if (to === undefined || to === this._tab.id) this._tab._owner.frame(out, rotation);
    if (to !== this._tab.id) this._tab._post({ k: 'dn', f: this._tab.id, t: to, m: out, r: rotation });
  }

  _resubscribe(): ClientFrame[] {
    return [...this._refs.keys()].map((channel) => subscribeFrame(channel, this._seen[channel]));
  }

  // ---- the tabs ----------------------------------------------------------------------------------

  /** A tab's frame for the server; true when the live connection took it. */
  _up(tab: string, frame: ClientFrame): boolean {
    if (frame.action === 'unsubscribe') return this._drop(tab, frame.channel);
    if (frame.action === 'subscribe') {
      let tabs = this._refs.get(frame.channel);
      if (!tabs) this._refs.set(frame.channel, (tabs = new Set()));
      tabs.add(tab);
      return this._link.send({ ...frame, id: `${tab} ${frame.id}` });
    }
    return this._link.send(frame);
  }

  _receive(m: TabMessage): void {
    // 'st' / 'dn' from another leader: one that was frozen and lost the lock; it steps down when it sees that.
    if (m.k === 'st' || m.k === 'dn' || this._life.signal.aborted) return;
    if (m.k === 'bye') return this._leave(m.f);
    this._join(m.f);
    if (m.k === 'hi')
      this._tab._post({
        k: 'st',
        f: this._tab.id,
        t: m.f,
        s: this._current,
        c: this._conn,
        n: this._members.size + 1,
        e: this._since,
        q: this._seen,
      });
    else if (m.k === 'up') this._up(m.f, m.m);
    else this._refresh(m.c);
  }

  private _saw(channel: string, seq: number): void {
    this._seen[channel] = Math.max(this._seen[channel] ?? 0, seq);
  }

  /** The tab no longer wants the channel; the last one to let go unsubscribes it. */
  private _drop(tab: string, channel: string): boolean {
    const tabs = this._refs.get(channel);
    if (!tabs?.delete(tab) || tabs.size > 0) return this._current === 'live';
    this._refs.delete(channel);
    delete this._seen[channel];
    return this._link.send({ action: 'unsubscribe', channel, id: channel });
  }

  /** A follower seen for the first time: counted, and watched through its lock (granted to us when the tab is gone). */
  private _join(tab: string): void {
    if (this._members.has(tab)) return;
    this._members.add(tab);
    this._announce();
    this._tab._locks
      .request(`${this._tab.name} ${tab}`, { signal: this._life.signal }, () => this._leave(tab))
      .catch(() => undefined);
  }

  private _leave(tab: string): void {
    if (this._life.signal.aborted || !this._members.delete(tab)) return;
    for (const channel of [...this._refs.keys()]) this._drop(tab, channel);
    this._announce();
  }

  /** State and tab count to every tab, this one included. */
  private _announce(): void {
    const n = this._members.size + 1;
    this._tab._post({ k: 'st', f: this._tab.id, s: this._current, c: this._conn, n, e: this._since });
    this._tab._owner.tabs?.(n, true);
  }
}
