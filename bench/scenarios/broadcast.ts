import { execFileSync } from 'node:child_process';
import { mintToken } from '../../local/cli/common';
import {
  closeSubscribers,
  openSubscribers,
  percentiles,
  problemLines,
  round,
  runId,
  sleep,
  snsPublisher,
  spawnLocal,
  type ScenarioResult,
  type Subscriber,
} from '../lib';
import { channelVersions, checkDeliveries, deliveryFigures, drain, publishAtRate } from './booking';

/**
 * One channel, many subscribers, on the local runtime (`npm start` in a child process): for each
 * size N, N sockets on `public_broadcast_N`, then M messages at R/s through SNS. Reports latency over
 * all deliveries, deliveries/s, and per message the time until the LAST subscriber had it.
 */
export interface BroadcastParams {
  sizes: number[];
  messages: number;
  /** Messages per second. */
  rate: number;
  drainSeconds: number;
  /** Handshakes in flight at once. */
  connectConcurrency: number;
}

export const BROADCAST_DEFAULTS: BroadcastParams = {
  sizes: [100, 1000, 2000],
  messages: 20,
  rate: 5,
  drainSeconds: 30,
  connectConcurrency: 100,
};

/**
 * Each socket takes 2 descriptors on this machine: the client end in this process and the gateway
 * end in the runtime's process (plus its management-API sockets). Nothing is raised: a size that
 * would not fit under `ulimit -n` with room to spare is refused.
 */
function checkFdLimit(largest: number): void {
  let soft = Infinity;
  try {
    soft = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  } catch {
    // No shell: let the OS say no if it must.
  }
  if (Number.isFinite(soft) && largest + 1000 > soft)
    throw new Error(
      `${largest} sockets need more descriptors than ulimit -n (${soft}) leaves room for; use --sizes with smaller numbers`,
    );
}

interface Row {
  subscribers: number;
  connect: { ms: number; perSecond: number };
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  lastSubscriberMs: { p50: number; max: number; messagesComplete: number; perMessage: (number | null)[] };
  deliveries: { expected: number; delivered: number; perSecond: number; spanSeconds: number };
  contract: { missing: number; duplicate: number; outOfOrder: number; wrongChannel: number; otherFrames: number };
  publishErrors: number;
  completeBeforeDeadline: boolean;
  /** After the sockets closed: until GET /stats counted 0 connections (the `$disconnect`s ran). */
  disconnectCleanupMs: number;
}

/** Polls GET /stats until the gateway's `$disconnect`s have removed every connection (bounded). */
async function waitForNoConnections(httpUrl: string, adminToken: string, timeoutMs = 60_000): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    const res = await fetch(`${httpUrl}/stats`, {
      headers: { authorization: `Bearer ${adminToken}` },
      signal: AbortSignal.timeout(10_000),
    });
    const stats = (await res.json()) as { connections?: number };
    if (res.ok && stats.connections === 0) return Date.now() - start;
    await sleep(200);
  }
  return Date.now() - start;
}

export async function runBroadcast(p: BroadcastParams = BROADCAST_DEFAULTS): Promise<ScenarioResult> {
  checkFdLimit(Math.max(...p.sizes));
  const run = runId();
  const rt = await spawnLocal({ quiet: true });
  const publisher = snsPublisher(rt.endpoints);
  const secret = rt.endpoints.jwtSecret;
  const adminToken = await mintToken({ sub: 'bench-admin', role: 'admin' }, secret);
  const rows: Row[] = [];
  let subs: Subscriber[] = [];
  try {
    for (const n of p.sizes) {
      const channel = `public_broadcast_${n}`;
      const tokens = await Promise.all(Array.from({ length: n }, (_, i) => mintToken({ sub: `bc-${n}-${i}` }, secret)));
      const connectStart = performance.now();
      subs = await openSubscribers(
        rt.endpoints.websocketUrl,
        tokens.map((token) => ({ token, channels: [channel] })),
        p.connectConcurrency,
      );
      const connectMs = performance.now() - connectStart;
      const baseline = await channelVersions(rt.endpoints.httpUrl, adminToken, [channel]);

      const firstPublishAt = Date.now();
      const pub = await publishAtRate(publisher, p.messages, p.rate, (m, sentAt) => ({
        id: `broadcast-${run}-${n}-${m}`,
        channels: [channel],
        event: 'broadcast',
        data: { sentAt, n: m },
      }));
      const drained = await drain(subs, n * p.messages, pub.lastPublishAt + p.drainSeconds * 1000);
      const check = checkDeliveries(subs, pub.sent, baseline);

      const lat = percentiles(check.latenciesMs);
      // Per message in publish order; null for one that some subscriber never got.
      const perMessage = pub.sent.map((s) => {
        const last = check.lastReceiveAt.get(s.id);
        return last === undefined ? null : last - s.sentAt;
      });
      const toLast = percentiles(perMessage.filter((v): v is number => v !== null));
      const spanS = (check.lastReceiveAtAll - firstPublishAt) / 1000;
      await closeSubscribers(subs);
      subs = [];
      const disconnectCleanupMs = await waitForNoConnections(rt.endpoints.httpUrl, adminToken);
      rows.push({
        subscribers: n,
        connect: { ms: round(connectMs), perSecond: round(n / (connectMs / 1000), 1) },
        latencyMs: { p50: lat.p50, p95: lat.p95, p99: lat.p99, max: lat.max },
        lastSubscriberMs: { p50: toLast.p50, max: toLast.max, messagesComplete: toLast.count, perMessage },
        ...deliveryFigures(check, spanS),
        publishErrors: pub.errors.length,
        completeBeforeDeadline: drained.complete,
        disconnectCleanupMs,
      });
    }
  } finally {
    await closeSubscribers(subs);
    publisher.destroy();
    await rt.stop();
  }
  const summaryRows = rows.map(
    (r) =>
      `${r.subscribers}: p50 ${r.latencyMs.p50} ms, p95 ${r.latencyMs.p95} ms, last subscriber p50 ${r.lastSubscriberMs.p50} ms / max ${r.lastSubscriberMs.max} ms, ${r.deliveries.perSecond} deliveries/s, missing ${r.contract.missing}, dup ${r.contract.duplicate}, out-of-order ${r.contract.outOfOrder}`,
  );
  return {
    scenario: 'broadcast',
    summary: `broadcast (${p.messages} msgs at ${p.rate}/s): ${summaryRows.join('; ')}`,
    parameters: { ...p },
    figures: { sizes: rows, runtimeProblems: problemLines(rt.output()) },
  };
}
