import type { EventFrame } from './frames';

/**
 * One channel's position in its stream. `last` is the last seq delivered (the baseline), `target` the
 * highest seq known to exist, and `held` keeps events that arrived ahead of a gap until the missing
 * ones arrive or recovery gives up. Every method returns the events that became deliverable, in seq
 * order; an event at or below `last` is a repeat and is never returned. No sockets, no timers.
 */
export class ChannelState {
  last: number | undefined;
  private target = 0;
  private readonly held = new Map<number, EventFrame>();

  /** An event carrying `seq` for this channel. */
  offer(seq: number, frame: EventFrame): EventFrame[] {
    if (this.last !== undefined && seq <= this.last) return [];
    this.held.set(seq, frame);
    this.target = Math.max(this.target, seq);
    return this.drain();
  }

  /**
   * The server's current seq (a `subscribed` reply or a polled version). The first one becomes the
   * baseline: the app's state as of `seq` covers everything up to it, so events held until now (they
   * can arrive before the reply) are released only when they come after it.
   */
  known(seq: number): EventFrame[] {
    this.target = Math.max(this.target, seq);
    return this.last === undefined ? this.reset(seq) : [];
  }

  /** History does not cover the gap (`reset`): continue from `seq`, releasing held events after it. */
  reset(seq: number): EventFrame[] {
    for (const s of this.sorted()) if (s <= seq) this.held.delete(s);
    this.last = seq;
    this.target = Math.max(seq, ...this.held.keys());
    return this.drain();
  }

  /** Recovery failed: give up on what is missing and continue before the first held event (or at `target`). */
  skip(): { seq: number; events: EventFrame[] } {
    const first = this.sorted()[0];
    const seq = first === undefined ? this.target : first - 1;
    this.last = seq;
    return { seq, events: this.drain() };
  }

  /** Known to be missing something: events held, or the server has seqs not delivered yet. */
  get gap(): boolean {
    return this.last !== undefined && (this.held.size > 0 || this.last < this.target);
  }

  private drain(): EventFrame[] {
    const out: EventFrame[] = [];
    while (this.last !== undefined && this.held.has(this.last + 1)) out.push(this.take(++this.last));
    return out;
  }

  private take(seq: number): EventFrame {
    const frame = this.held.get(seq) as EventFrame;
    this.held.delete(seq);
    return frame;
  }

  private sorted(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }
}
