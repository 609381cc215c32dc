import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDeliverHandler } from '../../functions/deliver';
import type { Config } from '../../shared/config';
import { testConfig } from '../../test/helpers/config';
import { TokenBucket } from '../../test/helpers/token-bucket';
import type { SqsRecord } from '../../shared/lambda-events';
import { resetSlowConnections } from '../../shared/lane-delivery';
import { buildLaneMessages, frameHead, type LaneTarget } from '../../shared/lanes';
import { PostError } from '../../shared/lean-poster';
import type { Poster } from '../../shared/management-api';
import { DEFAULT_DELIVERY_LANES, DEFAULT_SHARD_SIZE, FUNCTION_SETTINGS, PIPELINE } from '../../shared/pipeline';
import { PostRateLimiter, type PostRateOptions } from '../../shared/post-rate';
import { runtimeFrom, type Runtime } from '../../shared/runtime';
import { MAX_LANE_MESSAGE_BYTES } from '../../shared/sequencer';
import { RecordingTelemetry } from '../../shared/telemetry';
import { round, type ScenarioResult } from '../lib';

/**
 * One event to N connections through the sharded path, in one process, in real time:
 * - the sequencer's lane building (`buildLaneMessages`, with the configured lanes and shardSize);
 * - the delivery queue modelled as SQS FIFO: one message group per lane, a group's messages handed
 *   to one invocation at a time and in order (up to `batchSize` per batch), at most
 *   `maxConcurrency` invocations at once; a failed record comes back at the head of its group after
 *   the retry delay; lane message r of every lane is in the queue after r + 1 send rounds;
 * - each invocation runs the real `deliver` handler (functions/deliver.ts → shared/deliver-batch.ts
 *   → shared/lane-delivery.ts), one Runtime per simulated container (its own rate limiter), with the
 *   invocation's deadline from the function's timeout;
 * - `@connections` simulated in-process: each post answered after `latencyMs`; the account's post
 *   throttle a token bucket (`rate`/s, `burst`) that answers 429 LimitExceededException like API
 *   Gateway when empty (a refused post takes no token).
 * Not in the measure: resolving subscribers from DynamoDB (50,000 subscriber items are ~5 Query pages
 * of 1 MB, read in sequence), the ingest and order stages, Lambda cold starts, CPU of the real HTTP
 * stack (see `fanout-engine` for that). SQS hops are modelled as fixed delays (`sqsMs`).
 */
export interface LargeChannelParams {
  connections: number;
  /** Account post throttles to run, requests/s (the first is AWS's default). */
  rates: number[];
  burst: number;
  latencyMs: number;
  lanes: number;
  shardSize: number;
  /** Posts in flight per invocation. */
  postConcurrency: number;
  /** One SQS request (a send round, a receive). */
  sqsMs: number;
  /** Invoking a warm function. */
  invokeMs: number;
  /** Runs per throttle setting; the row shows the median run (by time to the last delivery). */
  repeats: number;
  /** Rate limiter settings (shared/post-rate.ts defaults unless given). */
  limiter?: Partial<PostRateOptions>;
}

export const LARGE_CHANNEL_DEFAULTS: LargeChannelParams = {
  connections: 50_000,
  rates: [10_000, 20_000, 40_000],
  burst: 5_000,
  latencyMs: 20,
  lanes: DEFAULT_DELIVERY_LANES,
  shardSize: DEFAULT_SHARD_SIZE,
  postConcurrency: testConfig().postConcurrency,
  sqsMs: 20,
  invokeMs: 10,
  repeats: 3,
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** API Gateway's `@connections` with the account's post throttle (token bucket). */
class SimulatedConnectionsApi {
  private readonly bucket: TokenBucket;
  readonly received = new Map<string, number>();
  posts = 0;
  refused = 0;
  lastDeliveryAt = 0;

  constructor(
    rate: number,
    burst: number,
    private readonly latencyMs: number,
  ) {
    this.bucket = new TokenBucket(rate, burst);
  }

  readonly poster: Poster = {
    post: (connectionId) => {
      this.posts++;
      const accepted = this.bucket.take();
      return new Promise<void>((resolve, reject) =>
        setTimeout(() => {
          if (!accepted) {
            this.refused++;
            return reject(new PostError('LimitExceededException', 'Rate exceeded', 429));
          }
          this.received.set(connectionId, (this.received.get(connectionId) ?? 0) + 1);
          this.lastDeliveryAt = performance.now();
          resolve();
        }, this.latencyMs),
      );
    },
  };
}

interface QueuedMessage {
  messageId: string;
  body: string;
  group: string;
  receives: number;
  visibleAt: number;
}

/** No DynamoDB here: the deliver stage's one write (the /stats counter) answers at once. */
function noDynamo(): DynamoDBClient {
  const client = new DynamoDBClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  client.middlewareStack.add(() => async () => ({ output: { $metadata: {} }, response: {} }), {
    step: 'initialize',
    name: 'benchNoDynamo',
  });
  return client;
}

async function runOnce(p: LargeChannelParams, rate: number) {
  resetSlowConnections();
  const api = new SimulatedConnectionsApi(rate, p.burst, p.latencyMs);
  const config: Config = testConfig({
    managementEndpoint: 'http://simulated',
    lanes: p.lanes,
    shardSize: p.shardSize,
    postConcurrency: p.postConcurrency,
    retryBaseSeconds: 1,
  });
  const dynamo = noDynamo();
  // A simulated Lambda container: its own Runtime (with its own post rate limiter) and handler.
  interface Container {
    limiter: PostRateLimiter;
    handler: ReturnType<typeof createDeliverHandler>;
  }
  const containers: Container[] = [];
  const idle: Container[] = [];
  const telemetry = new RecordingTelemetry();
  const container = (): Container => {
    const reused = idle.pop();
    if (reused) return reused;
    const limiter = new PostRateLimiter(p.limiter);
    const rt: Runtime = runtimeFrom({
      config,
      dynamo,
      log: telemetry,
      metrics: telemetry,
      poster: () => api.poster,
      postLimiter: limiter,
    });
    const c = { limiter, handler: createDeliverHandler(async () => rt) };
    containers.push(c);
    return c;
  };

  // The sequencer's part: one event's targets into lane messages.
  const channel = `large_${rate}`;
  const t0 = performance.now();
  const targets: LaneTarget[] = Array.from({ length: p.connections }, (_, i) => ({
    connectionId: `conn-${i.toString(36)}-${rate}`,
    seqs: { [channel]: 1 },
  }));
  const lanes = buildLaneMessages(
    [
      {
        id: `evt-${rate}`,
        head: frameHead({ id: `evt-${rate}`, event: 'big', data: { n: p.connections } }, Date.now()),
        targets,
      },
    ],
    { lanes: p.lanes, shardSize: p.shardSize, maxBytes: MAX_LANE_MESSAGE_BYTES },
  );
  const buildMs = performance.now() - t0;
  const shards = lanes.reduce((a, l) => a + l.length, 0);
  const queues = new Map<string, QueuedMessage[]>();
  let id = 0;
  for (const list of lanes) {
    for (const [r, m] of list.entries()) {
      const group = `lane-${m.lane}`;
      const q = queues.get(group) ?? [];
      // Send round r (the sequencer sends the r-th message of every lane per round), then a receive.
      q.push({ messageId: `m${id++}`, body: m.body, group, receives: 0, visibleAt: t0 + buildMs + (r + 2) * p.sqsMs });
      queues.set(group, q);
    }
  }

  const fifo = PIPELINE.delivery;
  const busy = new Set<string>();
  let running = 0;
  let peakWorkers = 0;
  let batches = 0;
  let failedRecords = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let wake: NodeJS.Timeout | undefined;

  const schedule = (): void => {
    const t = performance.now();
    let nextVisible = Infinity;
    for (const [group, q] of queues) {
      if (running >= fifo.maxConcurrency) break;
      if (busy.has(group) || q.length === 0) continue;
      if ((q[0] as QueuedMessage).visibleAt > t) {
        nextVisible = Math.min(nextVisible, (q[0] as QueuedMessage).visibleAt);
        continue;
      }
      const batch: QueuedMessage[] = [];
      while (batch.length < fifo.batchSize && q.length > 0 && (q[0] as QueuedMessage).visibleAt <= t)
        batch.push(q.shift() as QueuedMessage);
      busy.add(group);
      running++;
      peakWorkers = Math.max(peakWorkers, running);
      void invoke(group, batch);
    }
    if (running === 0 && [...queues.values()].every((q) => q.length === 0)) return done();
    if (nextVisible < Infinity) {
      clearTimeout(wake);
      wake = setTimeout(schedule, Math.max(0, nextVisible - performance.now()));
    }
  };

  const laneDone = new Map<string, number>();
  const invoke = async (group: string, batch: QueuedMessage[]): Promise<void> => {
    batches++;
    const c = container();
    await sleep(p.invokeMs);
    const started = performance.now();
    const timeoutMs = FUNCTION_SETTINGS.deliver.timeoutSeconds * 1000;
    const records: SqsRecord[] = batch.map((m) => ({
      messageId: m.messageId,
      receiptHandle: m.messageId,
      body: m.body,
      attributes: { ApproximateReceiveCount: String(++m.receives), MessageGroupId: group },
    }));
    const result = await c.handler(
      { Records: records },
      { getRemainingTimeInMillis: () => timeoutMs - (performance.now() - started) },
    );
    const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
    if (failed.size > 0) {
      failedRecords += failed.size;
      const back = batch.filter((m) => failed.has(m.messageId));
      const delay = config.retryBaseSeconds * 1000 * 2 ** Math.max(0, (back[0] as QueuedMessage).receives - 1);
      for (const m of back) m.visibleAt = performance.now() + delay;
      queues.get(group)?.unshift(...back);
    }
    idle.push(c);
    laneDone.set(group, performance.now() - t0);
    busy.delete(group);
    running--;
    schedule();
  };

  schedule();
  await finished;
  clearTimeout(wake);
  dynamo.destroy();

  const lastMs = api.lastDeliveryAt - t0;
  const floorMs = (Math.max(0, p.connections - p.burst) / rate) * 1000;
  const naiveFloorMs = (p.connections / rate) * 1000;
  let lost = 0;
  let duplicates = 0;
  for (const t of targets) {
    const n = api.received.get(t.connectionId) ?? 0;
    if (n === 0) lost++;
    else duplicates += n - 1;
  }
  const delivered = telemetry.lines
    .filter((l) => l.message === 'delivered')
    .map((l) => l.extra as Record<string, number>);
  const sum = (k: string) => delivered.reduce((a, r) => a + (r[k] ?? 0), 0);
  return {
    throttlePerSecond: rate,
    burst: p.burst,
    lastDeliveryMs: round(lastMs),
    floorMs: round(naiveFloorMs),
    overFloor: round(lastMs / naiveFloorMs, 3),
    bucketFloorMs: round(floorMs),
    laneBuildMs: round(buildMs, 1),
    shards,
    batches,
    peakWorkers,
    containers: containers.length,
    lost,
    duplicates,
    skipped: sum('skipped'),
    posts: api.posts,
    refused429: api.refused,
    accountThrottleRetries: sum('throttled'),
    failedRecords,
    postsPerSecond: Math.round((p.connections / lastMs) * 1000),
    lanesDoneMs: { first: round(Math.min(...laneDone.values())), last: round(Math.max(...laneDone.values())) },
    limiterDecreases: containers.reduce((a, c) => a + c.limiter.decreases, 0),
  };
}

export async function runLargeChannel(p: LargeChannelParams = LARGE_CHANNEL_DEFAULTS): Promise<ScenarioResult> {
  const rows = [];
  for (const rate of p.rates) {
    const runs = [];
    for (let r = 0; r < p.repeats; r++) runs.push(await runOnce(p, rate));
    const median = [...runs].sort((a, b) => a.lastDeliveryMs - b.lastDeliveryMs)[
      Math.floor(runs.length / 2)
    ] as (typeof runs)[number];
    rows.push({
      ...median,
      allRunsLastDeliveryMs: runs.map((r) => r.lastDeliveryMs),
      lostInAnyRun: Math.max(...runs.map((r) => r.lost)),
      skippedInAnyRun: Math.max(...runs.map((r) => r.skipped)),
    });
  }
  return {
    scenario: 'large-channel',
    summary: `large-channel (median of ${p.repeats}): ${p.connections} connections, ${p.latencyMs} ms/post, lanes ${p.lanes}, shardSize ${p.shardSize}: ${rows
      .map(
        (r) =>
          `throttle ${r.throttlePerSecond}/s → last delivery ${r.lastDeliveryMs} ms (floor ${r.floorMs}, ${r.overFloor}×), ${r.shards} shards, ${r.peakWorkers} workers, ${r.lostInAnyRun} lost, ${r.refused429} 429s`,
      )
      .join('; ')}`,
    parameters: {
      ...p,
      deliverMaxConcurrency: PIPELINE.delivery.maxConcurrency,
      deliverBatchSize: PIPELINE.delivery.batchSize,
      deliverTimeoutSeconds: FUNCTION_SETTINGS.deliver.timeoutSeconds,
    },
    figures: rows,
  };
}
