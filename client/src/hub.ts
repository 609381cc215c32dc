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
  private readonly link: SocketLink;
  /** Channel → ids of the tabs that want it. */
  private readonly refs = new Map<string, Set<string>>();
  /** Channel → highest seq seen on the connection: `since` for a planned replacement, and a gap hint for the tabs. */
  private readonly seen: Record<string, number> = {};
  private readonly members = new Set<string>();
  private readonly life = new AbortController();
  private readonly since = Date.now();
  private current: State = 'connecting';
  private conn: string | undefined;

  constructor(
    private readonly tab: TabLink,
    wasLive: boolean,
  ) {
    this.link = new SocketLink(this, tab.settings, wasLive);
    this.link.start();
  }

  /** Closes the connection without a word to the other tabs: the next leader speaks to them. */
  stop(): void {
    this.life.abort();
    this.link.stop();
  }

  refresh(conn: string): void {
    if (conn === this.conn) this.link.refresh();
  }

  // ---- the connection ----------------------------------------------------------------------------

  state(state: State, conn?: string): void {
    if (this.life.signal.aborted) return;
    this.current = state;
    this.conn = conn && `${this.tab.id}.${conn}`;
    this.announce();
    this.tab.owner.state(state, this.conn);
  }

  frame(frame: ServerFrame, rotation: boolean): void {
    if (frame.type === 'event') for (const [channel, seq] of Object.entries(frame.seqs)) this.saw(channel, seq);
    if (frame.type === 'subscribed') this.saw(frame.channel, frame.seq);
    if (frame.type === 'reset') this.seen[frame.channel] = frame.seq;
    // A reply names the tab that asked in front of its id (event ids are the publisher's: never parsed).
    let to: string | undefined;
    let out = frame;
    if (frame.type !== 'event' && frame.id?.includes(' ')) {
      const cut = frame.id.indexOf(' ');
      to = frame.id.slice(0, cut);
      out = { ...frame, id: frame.id.slice(cut + 1) };
    }
    if (to === undefined || to === this.tab.id) this.tab.owner.frame(out, rotation);
    if (to !== this.tab.id) this.tab.post({ k: 'dn', f: this.tab.id, t: to, m: out, r: rotation });
  }

  resubscribe(): ClientFrame[] {
    return [...this.refs.keys()].map((channel) => subscribeFrame(channel, this.seen[channel]));
  }

  // ---- the tabs ----------------------------------------------------------------------------------

  /** A tab's frame for the server; true when the live connection took it. */
  up(tab: string, frame: ClientFrame): boolean {
    if (frame.action === 'unsubscribe') return this.drop(tab, frame.channel);
    if (frame.action === 'subscribe') {
      let tabs = this.refs.get(frame.channel);
      if (!tabs) this.refs.set(frame.channel, (tabs = new Set()));
      tabs.add(tab);
      return this.link.send({ ...frame, id: `${tab} ${frame.id}` });
    }
    return this.link.send(frame);
  }

  receive(m: TabMessage): void {
    // 'st' / 'dn' from another leader: one that was frozen and lost the lock; it steps down when it sees that.
    if (m.k === 'st' || m.k === 'dn' || this.life.signal.aborted) return;
    if (m.k === 'bye') return this.leave(m.f);
    this.join(m.f);
    if (m.k === 'hi') this.tab.post({ k: 'st', f: this.tab.id, t: m.f, s: this.current, c: this.conn, n: this.members.size + 1, e: this.since, q: this.seen });
    else if (m.k === 'up') this.up(m.f, m.m);
    else this.refresh(m.c);
  }

  private saw(channel: string, seq: number): void {
    this.seen[channel] = Math.max(this.seen[channel] ?? 0, seq);
  }

  /** The tab no longer wants the channel; the last one to let go unsubscribes it. */
  private drop(tab: string, channel: string): boolean {
    const tabs = this.refs.get(channel);
    if (!tabs?.delete(tab) || tabs.size > 0) return this.current === 'live';
    this.refs.delete(channel);
    delete this.seen[channel];
    return this.link.send({ action: 'unsubscribe', channel, id: channel });
  }

  /** A follower seen for the first time: counted, and watched through its lock (granted to us when the tab is gone). */
  private join(tab: string): void {
    if (this.members.has(tab)) return;
    this.members.add(tab);
    this.announce();
    this.tab.locks.request(`${this.tab.name} ${tab}`, { signal: this.life.signal }, () => this.leave(tab)).catch(() => undefined);
  }

  private leave(tab: string): void {
    if (this.life.signal.aborted || !this.members.delete(tab)) return;
    for (const channel of [...this.refs.keys()]) this.drop(tab, channel);
    this.announce();
  }

  /** State and tab count to every tab, this one included. */
  private announce(): void {
    const n = this.members.size + 1;
    this.tab.post({ k: 'st', f: this.tab.id, s: this.current, c: this.conn, n, e: this.since });
    this.tab.owner.tabs?.(n, true);
  }
}
