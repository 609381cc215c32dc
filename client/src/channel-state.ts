import type { EventFrame } from './frames';

/**
 * One channel's position in its stream. `last` is the last seq delivered (the baseline), `target` the
 * highest seq known to exist, and `held` keeps events that arrived ahead of a gap until the missing
 * ones arrive or recovery gives up. Every method returns the events that became deliverable, in seq
 * order; an event at or below `last` is a repeat and is never returned. No sockets, no timers.
 */
export class ChannelState {
  last: number | undefined;
  private _target = 0;
  private readonly _held = new Map<number, EventFrame>();

  /** An event carrying `seq` for this channel. */
  offer(seq: number, frame: EventFrame): EventFrame[] {
    if (this.last !== undefined && seq <= this.last) return [];
    this._held.set(seq, frame);
    this._target = Math.max(this._target, seq);
    return this._drain();
  }

  /**
   * The server's current seq (a `subscribed` reply or a polled version). The first one becomes the
   * baseline: the app's state as of `seq` covers everything up to it, so events held until now (they
   * can arrive before the reply) are released only when they come after it.
   */
  known(seq: number): EventFrame[] {
    this._target = Math.max(this._target, seq);
    return this.last === undefined ? this.reset(seq) : [];
  }

  /** History does not cover the gap (`reset`): continue from `seq`, releasing held events after it. */
  reset(seq: number): EventFrame[] {
    for (const s of this._sorted()) if (s <= seq) this._held.delete(s);
    this.last = seq;
    this._target = Math.max(seq, ...this._held.keys());
    return this._drain();
  }

  /** Recovery failed: give up on what is missing and continue before the first held event (or at `target`). */
  skip(): { seq: number; events: EventFrame[] } {
    const first = this._sorted()[0];
    const seq = first === undefined ? this._target : first - 1;
    this.last = seq;
    return { seq, events: this._drain() };
  }

  /** Known to be missing something: events held, or the server has seqs not delivered yet. */
  get gap(): boolean {
    return this.last !== undefined && (this._held.size > 0 || this.last < this._target);
  }

  private _drain(): EventFrame[] {
    const out: EventFrame[] = [];
    while (this.last !== undefined && this._held.has(this.last + 1)) out.push(this._take(++this.last));
    return out;
  }

  private _take(seq: number): EventFrame {
    const frame = this._held.get(seq) as EventFrame;
    this._held.delete(seq);
    return frame;
  }

  private _sorted(): number[] {
    return [...this._held.keys()].sort((a, b) => a - b);
  }
}
