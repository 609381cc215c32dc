import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { enableFifoBatches } from '../local/fauxqs-fifo-batches';
import { takeBackUndelivered } from '../shared/deliver-batch';
import { deliverLanes } from '../shared/lane-delivery';
import { posterFor } from '../shared/lean-poster';
import { resolveLaneMessages } from '../shared/lane-refs';
import { parseLaneMessage, type LaneMessage } from '../shared/lanes';
import type { PublishedEvent } from '../shared/publish-message';
import type { Runtime } from '../shared/runtime';
import { sequence } from '../shared/sequencer';
import { newOpCounts, type OpCounts } from '../shared/store/db';

/**
 * The sequencer and deliver stages for benchmarks, in process: fauxqs holds the delivery queue (as
 * in `npm start`), the sequencer runs on the bench's runtime and counts its DynamoDB operations, and
 * the lane messages it sends are received and delivered with the real deliver code.
 */
export interface SqsHarness {
  sqs: SQSClient;
  deliveryQueueUrl: string;
  stop(): Promise<void>;
}

export async function startSqsHarness(): Promise<SqsHarness> {
  const { startFauxqs } = await import('fauxqs');
  await enableFifoBatches();
  const server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  const sqs = new SQSClient({
    endpoint: `http://127.0.0.1:${server.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    useQueueUrlAsEndpoint: false,
  });
  const deliveryQueueUrl = (
    await sqs.send(
      new CreateQueueCommand({ QueueName: `bench-delivery-${Date.now()}.fifo`, Attributes: { FifoQueue: 'true' } }),
    )
  ).QueueUrl as string;
  return {
    sqs,
    deliveryQueueUrl,
    async stop() {
      sqs.destroy();
      await server.stop();
    },
  };
}

export interface EventCost {
  ops: OpCounts;
  laneMessages: number;
  deliveries: number;
  posts: number;
  sequenceMs: number;
  deliverMs: number;
}

/** One event through sequence → lanes → deliver; counts what each step asked of AWS. */
export async function runEvent(
  rt: Runtime,
  h: SqsHarness,
  event: PublishedEvent,
  messageId: string,
): Promise<EventCost> {
  const ops = newOpCounts();
  const db = rt.db.withCounts(ops);
  const t0 = performance.now();
  const report = await sequence(
    { db, sqs: h.sqs, log: rt.log, config: { ...rt.config, deliveryQueueUrl: h.deliveryQueueUrl } },
    [{ messageId, event }],
  );
  const t1 = performance.now();
  const messages: LaneMessage[] = [];
  while (messages.length < report.laneMessages) {
    const r = await h.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: h.deliveryQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const m of r.Messages ?? []) messages.push(parseLaneMessage(m.Body ?? '') as LaneMessage);
    if (r.Messages?.length) {
      await h.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: h.deliveryQueueUrl,
          Entries: r.Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
        }),
      );
    }
  }
  const t2 = performance.now();
  // The deliver stage's own DynamoDB work is counted too: history reads of events sent by reference
  // (one container here) and the /stats correction for frames it gave up (shared/deliver-batch.ts).
  const resolved = await resolveLaneMessages(db, messages);
  const delivery = await deliverLanes(posterFor(rt, rt.config.managementEndpoint as string), resolved.messages, {
    concurrency: rt.config.postConcurrency,
    retryBudgetMs: rt.config.retryBudgetMs,
    deadline: Date.now() + 60_000,
  });
  await takeBackUndelivered(db, delivery, resolved.missingFrames);
  const t3 = performance.now();
  return {
    ops,
    laneMessages: report.laneMessages,
    deliveries: delivery.delivered,
    posts: delivery.posts,
    sequenceMs: t1 - t0,
    deliverMs: t3 - t2,
  };
}
