import type { Config } from './config';
import { fullJitterDelay, sleep as realSleep } from './backoff';
import { mapWithLimit } from './concurrency';
import { eventFrame, type ResolvedLaneMessage } from './lanes';
import { classifyPostError, type Poster } from './management-api';
import { PostRateLimiter } from './post-rate';

/**
 * The `deliver` stage: posts a batch of lane messages (in lane order) to their connections. Each
 * connection's frames go out one after another, in order; connections run in parallel (bounded).
 * A connection that fails (429 buffer full, 5xx, a post timeout, or 410 while it may still be
 * connecting) is retried with capped, jittered backoff for at most `retryBudgetMs` in this
 * invocation; after that its remaining frames get one attempt each and the connection is
 * remembered as slow for a while, so it never holds up its lane. A 410 from an established
 * connection ends delivery to it and reports it for cleanup.
 *
 * A 429 that the container's rate limiter (shared/post-rate.ts) sees as the account's post throttle
 * (many connections refused at once) is not the connection's fault: it is retried at the limiter's
 * pace without spending the connection's budget (up to `MAX_ACCOUNT_RETRIES` per frame, then it
 * counts like any 429), so an account throttle slows the whole container down instead of skipping
 * frames. A connection refused alone still runs out of its budget and is skipped.
 */
export interface LaneDeliveryOptions {
  concurrency: number;
  retryBudgetMs: number;
  /** Epoch ms after which no new post starts (the invocation's deadline, minus a margin). */
  deadline: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** The container's post rate limiter (default: one per process, like a Lambda container). */
  limiter?: PostRateLimiter;
}

export interface LaneDeliveryReport {
  connections: number;
  frames: number;
  delivered: number;
  /** Frames given up for a connection (after its retry budget, or while it is known slow). */
  skipped: number;
  posts: number;
  retries: number;
  /** Of the retries: 429s taken for the account's throttle (retried without spending a budget). */
  throttled: number;
  gone: string[];
  /** Posts not made because the deadline came first: the batch must be retried. */
  unfinished: number;
  /** Frames this container had posted already (a retried batch resuming). */
  alreadyPosted: number;
  /** Older frames of retried messages not posted to a connection this container knows nothing of. */
  superseded: number;
}

export class UnexpectedPostError extends Error {
  override name = 'UnexpectedPostError';
  constructor(connectionId: string, cause: unknown) {
    super(
      `posting to ${connectionId} failed unexpectedly: ${(cause as Error)?.name ?? 'error'}: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
  }
}

/** How long a connection whose budget ran out gets single attempts (no backoff) in later batches. */
export const SLOW_COOLDOWN_MS = 10_000;
const slowUntil = new Map<string, number>();
/**
 * Account-throttle retries per frame that spend no budget (with capped, jittered backoff: ~1.5 s for
 * all 10 on average). With the limiter pacing posts, a healthy connection is refused a few times in a
 * row at most; 10 in a row means it is (also) refused alone, and from there its budget runs as for
 * any 429.
 */
export const MAX_ACCOUNT_RETRIES = 10;
/** The container's limiter: every invocation in a container shares the account's throttle. */
const containerLimiter = new PostRateLimiter();

export function laneDeliveryOptions(
  config: Pick<Config, 'postConcurrency' | 'retryBudgetMs'>,
  deadline: number,
  limiter?: PostRateLimiter,
): LaneDeliveryOptions {
  return { concurrency: config.postConcurrency, retryBudgetMs: config.retryBudgetMs, deadline, limiter };
}

/**
 * What this container last posted to each connection (its frame's seqs). A frame at or below it is
 * not posted again: a retried batch resumes where it left off instead of repeating (or, worse,
 * posting an older frame after a newer one). Bounded; a container that has not seen the connection
 * falls back to the rule for retried messages below.
 */
const lastPosted = new Map<string, Record<string, number>>();
const LAST_POSTED_LIMIT = 100_000;

function remember(connectionId: string, seqs: Record<string, number>): void {
  lastPosted.delete(connectionId);
  lastPosted.set(connectionId, seqs);
  if (lastPosted.size > LAST_POSTED_LIMIT) lastPosted.delete(lastPosted.keys().next().value as string);
}

function alreadyPosted(connectionId: string, seqs: Record<string, number>): boolean {
  const last = lastPosted.get(connectionId);
  return last !== undefined && Object.entries(seqs).some(([c, s]) => last[c] !== undefined && s <= last[c]);
}

/**
 * One post at a time to each connection in this container, whichever invocation makes it. An
 * invocation that crashed or timed out can leave a post in flight (on Lambda it resumes when the
 * frozen sandbox thaws for the next invocation); the retry of its batch waits for that post to
 * settle, so it knows what was delivered, and its own posts cannot be overtaken by the older one.
 */
class ConnectionLocks {
  private readonly held = new Map<string, Promise<void>>();

  async acquire(connectionId: string): Promise<() => void> {
    for (let busy = this.held.get(connectionId); busy; busy = this.held.get(connectionId)) await busy;
    let release!: () => void;
    this.held.set(connectionId, new Promise<void>((resolve) => (release = resolve)));
    return () => {
      this.held.delete(connectionId);
      release();
    };
  }
}
const postingTo = new ConnectionLocks();

interface PendingFrame {
  /** The event's frame head (the frame is built only if it is posted). */
  head: string;
  seqs: Record<string, number>;
  /** Subscribed during `$connect` moments ago: a 410 may mean "not established yet". */
  fresh: boolean;
  /** From a message delivered (in part) before. */
  retried: boolean;
}

/**
 * `retried[i]` marks a message that was delivered (in part) before: an invocation that failed or ran
 * out of time after posting. Such a message may hold frames a connection never got, older than ones
 * it did get; posting them now would break its seq order. A connection this container has posted to
 * resumes after what it got (`lastPosted`); one it knows nothing of gets, of the frames from retried
 * messages, only the newest (a repeat at worst, same id); what it lacks below that it sees as a gap
 * and recovers with `since`. Both are decided frame by frame while the connection is locked
 * (`postingTo`), after any earlier post to it has settled.
 */
export async function deliverLanes(
  poster: Poster,
  messages: readonly ResolvedLaneMessage[],
  opts: LaneDeliveryOptions,
  retried: readonly boolean[] = [],
): Promise<LaneDeliveryReport> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? realSleep;
  const limiter = opts.limiter ?? containerLimiter;
  const perConnection = new Map<string, PendingFrame[]>();
  messages.forEach((m, i) => {
    for (const e of m.events) {
      for (const [connectionId, seqs, fresh] of e.targets) {
        let list = perConnection.get(connectionId);
        if (!list) perConnection.set(connectionId, (list = []));
        list.push({ head: e.head, seqs, fresh: fresh === 1, retried: retried[i] === true });
      }
    }
  });
  const report: LaneDeliveryReport = {
    connections: perConnection.size,
    frames: 0,
    delivered: 0,
    skipped: 0,
    posts: 0,
    retries: 0,
    throttled: 0,
    gone: [],
    unfinished: 0,
    alreadyPosted: 0,
    superseded: 0,
  };
  for (const list of perConnection.values()) report.frames += list.length;
  pruneSlow(now());

  // The first unexpected error stops every connection's loop (no post starts after it), and is thrown
  // once they all have stopped: the batch goes back to the queue only when this invocation posts no more.
  let failure: { error: unknown } | undefined;
  const deliverTo = async (connectionId: string, frames: PendingFrame[]): Promise<void> => {
    let cooled = (slowUntil.get(connectionId) ?? 0) > now();
    let budgetLeft = cooled ? 0 : opts.retryBudgetMs;
    const lastRetried = frames.map((f) => f.retried).lastIndexOf(true);
    for (const [i, { head, seqs, fresh, retried: fromRetried }] of frames.entries()) {
      if (failure) return;
      if (now() >= opts.deadline) {
        report.unfinished += frames.length - i;
        return;
      }
      // Decided when this connection is ours: an earlier post to it (another invocation's, still in
      // flight after that invocation ended) has settled, and `lastPosted` says what it delivered.
      const release = await postingTo.acquire(connectionId);
      try {
        if (alreadyPosted(connectionId, seqs)) {
          report.alreadyPosted++;
          continue;
        }
        if (fromRetried && i < lastRetried && !lastPosted.has(connectionId)) {
          report.superseded++;
          continue;
        }
        const frame = eventFrame(head, seqs);
        let accountRetries = 0;
        // `attempt` counts the retries this connection pays for (the backoff grows with them).
        for (let attempt = 0; ;) {
          const slot = limiter.reserve();
          if (slot > 0) {
            if (now() + slot >= opts.deadline) {
              report.unfinished += frames.length - i;
              return;
            }
            await sleep(slot);
          }
          if (failure) return; // another connection failed the batch while this one waited
          report.posts++;
          let kind: ReturnType<typeof classifyPostError>;
          let lastError: unknown;
          try {
            await poster.post(connectionId, frame);
            limiter.succeeded();
            report.delivered++;
            remember(connectionId, seqs);
            if (cooled) {
              // It reads again: full retries from here on.
              cooled = false;
              slowUntil.delete(connectionId);
              budgetLeft = opts.retryBudgetMs;
            }
            break;
          } catch (err) {
            kind = classifyPostError(err);
            lastError = err;
          }
          // Anything unexpected (a 4xx that is not 410/429, an invocation that crashed under us) fails
          // the batch: it is retried from the queue, and repeats carry the same event ids.
          if (kind === 'client') throw new UnexpectedPostError(connectionId, lastError);
          if (kind === 'gone' && !fresh) {
            report.gone.push(connectionId);
            return;
          }
          // The account's throttle, not this connection: again at the limiter's pace, budget untouched.
          if (kind === 'throttled' && limiter.throttled(connectionId) && accountRetries < MAX_ACCOUNT_RETRIES) {
            // Backoff as well as the limiter's pace: the limiter needs a few round trips to find the
            // account's share, and 10 retries spread over ~1.5 s outlast that.
            const pause = fullJitterDelay(accountRetries, 20, 500, opts.random);
            accountRetries++;
            report.retries++;
            report.throttled++;
            if (now() + pause >= opts.deadline) {
              report.unfinished += frames.length - i;
              return;
            }
            await sleep(pause);
            continue;
          }
          const retryable = kind === 'gone' || kind === 'throttled' || kind === 'server' || kind === 'network';
          const wait = fullJitterDelay(attempt, 50, 400, opts.random) + 10;
          if (!retryable || budgetLeft <= 0 || now() + wait >= opts.deadline) {
            report.skipped++;
            // Only a full buffer marks it slow (a paused reader); random 5xx or timeouts do not.
            if (kind === 'throttled' && budgetLeft <= 0) {
              slowUntil.set(connectionId, now() + SLOW_COOLDOWN_MS);
              cooled = true;
            }
            break;
          }
          const w = Math.min(wait, budgetLeft);
          budgetLeft -= w;
          report.retries++;
          attempt++;
          await sleep(w);
        }
      } finally {
        release();
      }
    }
  };
  await mapWithLimit([...perConnection], opts.concurrency, async ([connectionId, frames]) => {
    if (failure) return;
    try {
      await deliverTo(connectionId, frames);
    } catch (error) {
      failure ??= { error };
    }
  });
  if (failure) throw failure.error;
  return report;
}

function pruneSlow(t: number): void {
  if (slowUntil.size < 1000) return;
  for (const [id, until] of slowUntil) if (until <= t) slowUntil.delete(id);
}

/** Test hook: forget which connections were slow and what was posted to them. */
export function resetSlowConnections(): void {
  slowUntil.clear();
  lastPosted.clear();
}
