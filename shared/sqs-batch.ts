import { ChangeMessageVisibilityBatchCommand } from '@aws-sdk/client-sqs';
import { sqsEventSchema, type InvocationContext, type SqsBatchResponse, type SqsRecord } from './lambda-events';
import type { Config } from './config';
import { lambdaHandler } from './handler';
import type { FunctionName } from './routes';
import type { QueueStage } from './pipeline';
import type { Runtime } from './runtime';
import { sqsFor } from './sqs-client';
import { errorDetails } from './telemetry';

/**
 * One path for every queue consumer (fanout, sequencer, deliver): parse the SQS event, run the
 * batch before the invocation's deadline, and report failed records as partial batch failures.
 * A failed record is made visible again after `retryBaseSeconds × 2^(receives-1)` (≤ 30 s) instead
 * of the queue's visibility timeout, so a retry comes quickly; past the queue's maxReceiveCount it
 * moves to the dead-letter queue. On a FIFO queue a failed record fails every later record of its
 * message group too, so nothing overtakes it.
 */
export interface BatchOutcome {
  /** Message ids of records to retry. */
  failed: ReadonlySet<string>;
}

export interface SqsBatchOptions {
  name: string;
  queueUrl: string | undefined;
  fifo: boolean;
  /** Stop starting work this long before the Lambda deadline, to report and reset visibility. */
  marginMs?: number;
  process(records: SqsRecord[], deadline: number): Promise<BatchOutcome>;
}

/**
 * A queue consumer's Lambda handler: its stage (shared/pipeline.ts), its queue and what it does with a
 * batch, on the one handler path (shared/handler.ts). An event that is not an SQS event fails nothing
 * (there is no record to retry); an unexpected error fails the whole batch, as a thrown error would.
 */
export function sqsHandler(
  runtime: () => Promise<Runtime>,
  opts: {
    name: FunctionName;
    stage: QueueStage;
    queueUrl: (config: Config) => string | undefined;
    process(rt: Runtime, records: SqsRecord[], deadline: number): Promise<BatchOutcome>;
  },
) {
  return lambdaHandler(runtime, {
    name: opts.name,
    schema: sqsEventSchema,
    expects: 'an SQS event',
    keys: (event) => ({ records: event.Records.length }),
    invalid: (): SqsBatchResponse => ({ batchItemFailures: [] }),
    handle: (rt, event, context) =>
      handleSqsBatch(rt, event.Records, context, {
        name: opts.name,
        queueUrl: opts.queueUrl(rt.config),
        fifo: opts.stage.fifo,
        process: (records, deadline) => opts.process(rt, records, deadline),
      }),
    failed: (_rt, event) => ({ batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) }),
  });
}

export async function handleSqsBatch(
  rt: Runtime,
  records: SqsRecord[],
  context: InvocationContext | undefined,
  opts: SqsBatchOptions,
): Promise<SqsBatchResponse> {
  const remaining = context?.getRemainingTimeInMillis() ?? 60_000;
  const margin = opts.marginMs ?? Math.min(1500, remaining / 4);
  const deadline = rt.clock.now() + remaining - margin;
  let failed: Set<string>;
  let timer: NodeJS.Timeout | undefined;
  try {
    const outOfTime = new Promise<BatchOutcome>((resolve) => {
      timer = setTimeout(
        () => {
          rt.log.error(`${opts.name} ran out of time; the batch will be retried`, { records: records.length });
          resolve({ failed: new Set(records.map((r) => r.messageId)) });
        },
        Math.max(0, deadline + margin / 2 - rt.clock.now()),
      );
    });
    failed = new Set((await Promise.race([opts.process(records, deadline), outOfTime])).failed);
  } catch (err) {
    rt.log.error(`${opts.name} failed; the batch will be retried`, { records: records.length, ...errorDetails(err) });
    rt.metrics.count('FailedBatch');
    failed = new Set(records.map((r) => r.messageId));
  } finally {
    clearTimeout(timer);
  }
  if (opts.fifo && failed.size > 0) {
    const blocked = new Set<string>();
    for (const r of records) {
      const group = r.attributes?.MessageGroupId ?? '';
      if (blocked.has(group)) failed.add(r.messageId);
      else if (failed.has(r.messageId)) blocked.add(group);
    }
  }
  const failures = records.filter((r) => failed.has(r.messageId));
  if (failures.length > 0) await retrySoon(rt, opts, failures);
  return { batchItemFailures: failures.map((r) => ({ itemIdentifier: r.messageId })) };
}

async function retrySoon(rt: Runtime, opts: SqsBatchOptions, failures: SqsRecord[]): Promise<void> {
  if (!opts.queueUrl) return;
  for (let i = 0; i < failures.length; i += 10) {
    const entries = failures.slice(i, i + 10).map((r, j) => {
      const receives = Number(r.attributes?.ApproximateReceiveCount ?? '1');
      const delay =
        rt.config.retryBaseSeconds === 0
          ? 0
          : Math.min(30, rt.config.retryBaseSeconds * 2 ** Math.max(0, receives - 1));
      return { Id: String(j), ReceiptHandle: r.receiptHandle, VisibilityTimeout: delay };
    });
    await sqsFor(rt)
      .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: opts.queueUrl, Entries: entries }))
      .catch((err: unknown) =>
        rt.log.warn(
          `${opts.name}: could not shorten the visibility of failed records; they return after the queue's visibility timeout`,
          errorDetails(err),
        ),
      );
  }
}

/** SQS's SendMessageBatch limits: at most 10 entries and, kept under 256 KB, 250 KB of bodies per request. */
export const SEND_BATCH_ENTRIES = 10;
export const SEND_BATCH_BYTES = 250 * 1024;

/** Splits items into SendMessageBatch requests within those limits, keeping their order. */
export function sendBatches<T>(items: readonly T[], bodyOf: (item: T) => string): T[][] {
  const requests: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(bodyOf(item));
    if (cur.length > 0 && (cur.length >= SEND_BATCH_ENTRIES || bytes + size > SEND_BATCH_BYTES)) {
      requests.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(item);
    bytes += size;
  }
  if (cur.length > 0) requests.push(cur);
  return requests;
}
