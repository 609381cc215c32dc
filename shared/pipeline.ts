import type { FunctionName } from './routes';

/**
 * The delivery pipeline's settings: ONE table read by the CDK stack (infra/) and the local runtime
 * (local/), like the route table, so local mode runs what deploys (docs/architecture.md, "Pipeline").
 *
 *   SNS topic (standard) ──▶ ingest queue (SQS standard) ──▶ `fanout`: validate, forward
 *     ──▶ order queue (SQS FIFO, one message group) ──▶ `sequencer`: idempotency, seqs, history,
 *         subscribers, one lane message per delivery lane
 *     ──▶ delivery queue (SQS FIFO, group = lane = hash(connection id) mod lanes) ──▶ `deliver`: posts
 *
 * Every consumer is a Lambda event source mapping with partial batch failure reports. A queue's
 * visibility timeout is VISIBILITY_FACTOR × its consumer's timeout (AWS's advice for SQS event
 * sources); after maxReceiveCount receives a message moves to the queue's dead-letter queue.
 */
export interface QueueStage {
  /** Logical name: the CDK construct id stem and the local queue name suffix. */
  queue: 'ingest' | 'order' | 'delivery';
  /** The function consuming it. */
  fn: FunctionName;
  fifo: boolean;
  /** Records per invocation (event source mapping BatchSize). */
  batchSize: number;
  /** Concurrent invocations at most (event source mapping ScalingConfig.MaximumConcurrency, ≥ 2). */
  maxConcurrency: number;
  /** Receives before a message is moved to the dead-letter queue. */
  maxReceiveCount: number;
}

export const PIPELINE: Record<'ingest' | 'order' | 'delivery', QueueStage> = {
  ingest: { queue: 'ingest', fn: 'fanout', fifo: false, batchSize: 10, maxConcurrency: 5, maxReceiveCount: 5 },
  // One message group: the sequencer runs one batch at a time, in order (seqs are assigned here).
  order: { queue: 'order', fn: 'sequencer', fifo: true, batchSize: 10, maxConcurrency: 2, maxReceiveCount: 10 },
  delivery: { queue: 'delivery', fn: 'deliver', fifo: true, batchSize: 10, maxConcurrency: 16, maxReceiveCount: 5 },
};

/** Timeout (seconds) and memory (MB) per function, as deployed and as enforced locally. */
export const FUNCTION_SETTINGS: Record<FunctionName, { timeoutSeconds: number; memoryMb: number }> = {
  connect: { timeoutSeconds: 10, memoryMb: 512 },
  disconnect: { timeoutSeconds: 10, memoryMb: 512 },
  message: { timeoutSeconds: 10, memoryMb: 512 },
  http: { timeoutSeconds: 10, memoryMb: 512 },
  fanout: { timeoutSeconds: 6, memoryMb: 512 },
  sequencer: { timeoutSeconds: 6, memoryMb: 1024 },
  deliver: { timeoutSeconds: 10, memoryMb: 1024 },
};

/** AWS: "set the source queue's visibility timeout to at least six times the function timeout". */
export const VISIBILITY_FACTOR = 6;

export function visibilityTimeoutSeconds(stage: QueueStage): number {
  return FUNCTION_SETTINGS[stage.fn].timeoutSeconds * VISIBILITY_FACTOR;
}

/** Message group of the order queue: one group, so seqs are assigned by one invocation at a time. */
export const ORDER_GROUP_ID = 'events';

/**
 * What one order-queue message may carry: `fanout` packs the valid events of its batch into as few
 * messages as these allow, so one sequencer batch (10 messages, SQS FIFO's limit) sequences up to
 * 100 small events. The one-group stage's fixed cost per batch (a BatchGet, a transaction, the lane
 * sends) is then shared by ten times as many events when the load is high; at low load a message
 * holds the one event there is. The byte bound keeps a batch at ≤ 320 KB of event data, as it was
 * with one event (≤ 32 KB) per message: for big events the batch's cost is in its bytes (history
 * writes, one copy per lane), and bigger batches would only make each event wait longer.
 */
export const ORDER_MESSAGE_MAX_EVENTS = 10;
export const ORDER_MESSAGE_MAX_BYTES = 32 * 1024;

/** Delivery lanes (message groups of the delivery queue); a connection always uses the same lane. */
export const DEFAULT_DELIVERY_LANES = 16;

/** Connections per lane message at most (a bigger lane splits into several messages, in order). */
export const DEFAULT_SHARD_SIZE = 500;

/** Environment variables the pipeline's functions read (set by the stack and by `npm start`). */
export const PIPELINE_ENV = {
  ingestQueueUrl: 'SWITCHBOARD_INGEST_QUEUE_URL',
  orderQueueUrl: 'SWITCHBOARD_ORDER_QUEUE_URL',
  deliveryQueueUrl: 'SWITCHBOARD_DELIVERY_QUEUE_URL',
  lanes: 'SWITCHBOARD_DELIVERY_LANES',
  shardSize: 'SWITCHBOARD_SHARD_SIZE',
} as const;
