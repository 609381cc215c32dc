import { fullJitterDelay, sleep as realSleep } from './backoff';
import { mapWithLimit } from './concurrency';
import { classifyPostError, type PostFailureKind, type Poster } from './management-api';

/**
 * Deliver: post frames to connections with bounded concurrency. A connection that answers 410 Gone
 * is reported for cleanup; throttles (429) and server errors are retried with capped, jittered
 * backoff; other failures are reported, never thrown, so one bad connection cannot fail the rest.
 */
export interface Delivery {
  connectionId: string;
  data: string;
}

export interface DeliveryOptions {
  concurrency: number;
  maxAttempts?: number;
  /**
   * Which failures are retried. A timed-out post or a 5xx may have been delivered all the same, so a
   * frame that must not arrive twice (it has no id to drop a repeat by) retries only `throttled`.
   * @default ['throttled', 'server', 'network']
   */
  retry?: readonly PostFailureKind[];
  baseDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface DeliveryReport {
  delivered: number;
  gone: string[];
  failed: { connectionId: string; reason: string }[];
  posts: number;
  retries: number;
}

const RETRIED: readonly PostFailureKind[] = ['throttled', 'server', 'network'];

export async function deliver(
  poster: Poster,
  deliveries: readonly Delivery[],
  opts: DeliveryOptions,
): Promise<DeliveryReport> {
  const maxAttempts = opts.maxAttempts ?? 5;
  const sleep = opts.sleep ?? realSleep;
  const report: DeliveryReport = { delivered: 0, gone: [], failed: [], posts: 0, retries: 0 };
  await mapWithLimit(deliveries, opts.concurrency, async ({ connectionId, data }) => {
    for (let attempt = 0; ; attempt++) {
      report.posts++;
      try {
        await poster.post(connectionId, data);
        report.delivered++;
        return;
      } catch (err) {
        const kind = classifyPostError(err);
        if (kind === 'gone') {
          report.gone.push(connectionId);
          return;
        }
        const retryable = (opts.retry ?? RETRIED).includes(kind);
        if (!retryable || attempt + 1 >= maxAttempts) {
          report.failed.push({ connectionId, reason: `${kind}: ${(err as Error)?.name ?? 'error'}` });
          return;
        }
        report.retries++;
        await sleep(fullJitterDelay(attempt, opts.baseDelayMs ?? 50, opts.maxDelayMs ?? 2000, opts.random));
      }
    }
  });
  return report;
}
