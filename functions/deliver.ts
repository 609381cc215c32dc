import { deliverRecords } from '../shared/deliver-batch';
import { PIPELINE } from '../shared/pipeline';
import { defaultRuntime, type Runtime } from '../shared/runtime';
import { sqsHandler } from '../shared/sqs-batch';

/** Delivery queue (SQS FIFO lanes) → frames posted to the lane's connections in order (shared/lane-delivery.ts). */
export function createDeliverHandler(runtime: () => Promise<Runtime>) {
  return sqsHandler(runtime, {
    name: 'deliver',
    stage: PIPELINE.delivery,
    queueUrl: (c) => c.deliveryQueueUrl,
    process: deliverRecords,
  });
}

export const handler = createDeliverHandler(defaultRuntime);
