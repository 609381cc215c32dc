/**
 * A per-container adaptive rate limiter for `@connections` posts, in the spirit of the AWS SDK's
 * "adaptive" retry mode, for the one thing a single post cannot tell: whether a 429
 * LimitExceededException came from the client's full buffer or from the account's post throttle
 * (10,000 requests/s, burst 5,000, shared by every invocation). API Gateway answers both the same way.
 *
 * What tells them apart is breadth: a full buffer is one connection failing alone while posts to the
 * others succeed; the account throttle refuses many different connections at once. So:
 * - Every outcome is recorded in a sliding window (1 s, in 100 ms buckets).
 * - A 429 is **account-wide** when, within the window, at least `minConnections` distinct connections
 *   were refused and they are at least `minShare` of the answers (shares count refused connections,
 *   not refused posts: a slow reader retried ten times counts once). The caller then retries it without
 *   spending the connection's retry budget (it is not the connection's fault).
 * - An account-wide 429 while refused connections are at least `decreaseShare` (10 %) of the answers (at
 *   most one per `decreaseIntervalMs`, about a round trip, so one burst of refusals counts once) lowers
 *   the rate. Below that share nothing is lowered: a steady trickle of 429s that does not depend on
 *   the rate (many slow readers, injected faults) would otherwise lower it again and again, as random
 *   loss does to TCP, down to the floor. Over the real throttle a few % above the limit cost only
 *   retries (refused posts take no token); the share passes 10 % at once when a burst hits it.
 *   The rate goes to `beta` × the rate at which the account ACCEPTED this container's posts over the
 *   window (its share of the throttle, measured: one step gets there, where halving would take
 *   several round trips and lose throughput on the way down), but never below half of what the
 *   container offered in that window. Posts then wait for their slot (GCRA: one every 1/rate
 *   seconds, a little burst allowed). Between decreases the rate grows continuously, e^`increase`-fold
 *   per second (e² ≈ 7.4×), probing for more (so when other invocations finish, the last ones take
 *   over their share within a second or two instead of crawling back linearly); after `releaseMs`
 *   without a decrease the limit is dropped.
 * Unlimited (the usual case), `reserve()` is one comparison: the fast path costs nothing.
 */
export interface PostRateOptions {
  windowMs: number;
  minConnections: number;
  minShare: number;
  /** 429s must be at least this share of the answers to lower the rate (see above). */
  decreaseShare: number;
  beta: number;
  /** Growth between refusals: the rate is multiplied by e^(increase × seconds). */
  increase: number;
  /** At most one decrease per this long (about a round trip: one burst of refusals counts once). */
  decreaseIntervalMs: number;
  /** Burst allowed by the pacing, in ms of the current rate. */
  burstMs: number;
  /** The limit is dropped this long after the last decrease. */
  releaseMs: number;
  /** The rate never goes below this (posts/s). */
  minRate: number;
  now: () => number;
}

export const POST_RATE_DEFAULTS: PostRateOptions = {
  windowMs: 1000,
  minConnections: 3,
  minShare: 0.01,
  decreaseShare: 0.1,
  beta: 0.8,
  increase: 2,
  decreaseIntervalMs: 100,
  burstMs: 20,
  releaseMs: 5000,
  minRate: 20,
  now: Date.now,
};

const BUCKET_MS = 100;
/**
 * Evidence before the rate is lowered: answers in the window, and refused connections. 2 refusals in
 * 16 answers are 12 %, and a 3 % trickle produces that by chance every few seconds; 10 refused
 * connections out of ≥ 50 answers at ≥ 10 % it hardly ever does (binomial tail below 0.1 % per check).
 * A real throttle refuses hundreds at once.
 */
const MIN_SAMPLES = 50;
const MIN_REFUSED = 10;

interface Bucket {
  at: number;
  /** When its first answer came (rates are measured from there, not from the bucket's start). */
  first: number;
  ok: number;
  throttled: number;
}

export class PostRateLimiter {
  private readonly o: PostRateOptions;
  private rate = Infinity;
  /** GCRA's theoretical arrival time of the next post (epoch ms). */
  private tat = 0;
  private lastDecrease = -Infinity;
  private lastAdjust = 0;
  private readonly buckets: Bucket[] = [];
  /** Connection id → when it was last refused (within the window). */
  private readonly refused = new Map<string, number>();
  /** Account-wide 429s seen, rate decreases made (for reports and tests). */
  accountThrottles = 0;
  decreases = 0;

  constructor(opts: Partial<PostRateOptions> = {}) {
    this.o = { ...POST_RATE_DEFAULTS, ...opts };
  }

  /** The current rate limit in posts/s (Infinity: none). */
  get limit(): number {
    return this.rate;
  }

  /** Call before each post: how many ms to wait first (0 when not limited). */
  reserve(): number {
    if (this.rate === Infinity) return 0;
    const t = this.o.now();
    this.grow(t);
    if (this.rate === Infinity) return 0;
    const interval = 1000 / this.rate;
    this.tat = Math.max(this.tat, t) + interval;
    return Math.max(0, this.tat - t - interval - this.o.burstMs);
  }

  succeeded(): void {
    this.bucket(this.o.now()).ok++;
  }

  /** Records a 429 from `connectionId`; true when it looks account-wide (see above). */
  throttled(connectionId: string): boolean {
    const t = this.o.now();
    this.bucket(t).throttled++;
    // Kept in time order (re-inserted), so the ones out of the window are at the front.
    this.refused.delete(connectionId);
    this.refused.set(connectionId, t);
    const since = t - this.o.windowMs;
    for (const [id, at] of this.refused) {
      if (at >= since) break;
      this.refused.delete(id);
    }
    if (this.refused.size < this.o.minConnections) return false;
    let ok = 0;
    let refusedPosts = 0;
    for (const b of this.buckets) {
      if (b.at < since) continue;
      ok += b.ok;
      refusedPosts += b.throttled;
    }
    // Shares count refused CONNECTIONS, not refused posts: a slow reader retried ten times is one.
    const share = this.refused.size / (ok + this.refused.size);
    if (share < this.o.minShare) return false;
    this.accountThrottles++;
    const overLimit =
      share >= this.o.decreaseShare && this.refused.size >= MIN_REFUSED && ok + refusedPosts >= MIN_SAMPLES;
    if (overLimit && t - this.lastDecrease >= this.o.decreaseIntervalMs) this.decrease(t);
    return true;
  }

  private decrease(t: number): void {
    this.lastDecrease = t;
    this.decreases++;
    const { ok, answered } = this.rates(t);
    // The account's share for this container: what it accepted. Never below half of what this
    // container offered (or was allowed), so one bad window (a container starting while others hold
    // the whole throttle gets no success at all) halves the rate instead of dropping it to the floor.
    const offered = Math.min(this.rate, answered);
    const base = Math.max(ok, offered / 2);
    this.rate = Math.max(this.o.minRate, this.o.beta * Math.min(this.rate, base));
    this.lastAdjust = t;
    this.tat = Math.max(this.tat, t);
  }

  private grow(t: number): void {
    if (t - this.lastDecrease >= this.o.releaseMs) {
      this.rate = Infinity;
      return;
    }
    const dt = t - this.lastAdjust;
    if (dt <= 0) return;
    this.rate *= Math.exp((this.o.increase * dt) / 1000);
    this.lastAdjust = t;
  }

  /** Successful and answered (successful or refused) posts per second since the window's first answer. */
  private rates(t: number): { ok: number; answered: number } {
    const since = t - this.o.windowMs;
    let ok = 0;
    let refused = 0;
    let first = t;
    for (const b of this.buckets) {
      if (b.at < since) continue;
      ok += b.ok;
      refused += b.throttled;
      first = Math.min(first, b.first);
    }
    const per = 1000 / Math.max(1, t - first);
    return { ok: ok * per, answered: (ok + refused) * per };
  }

  private bucket(t: number): Bucket {
    const at = t - (t % BUCKET_MS);
    const last = this.buckets[this.buckets.length - 1];
    if (last && last.at === at) return last;
    const b: Bucket = { at, first: t, ok: 0, throttled: 0 };
    this.buckets.push(b);
    const keep = Math.ceil(this.o.windowMs / BUCKET_MS) + 1;
    if (this.buckets.length > keep) this.buckets.splice(0, this.buckets.length - keep);
    return b;
  }
}
