import type { InvocationContext } from '../shared/lambda-events';
import { deliverRecords } from '../shared/deliver-batch';
import { PIPELINE } from '../shared/pipeline';
import { defaultRuntime, type Runtime } from '../shared/runtime';
import { handleSqsBatch } from '../shared/sqs-batch';

/** Delivery queue (SQS FIFO lanes) → frames posted to the lane's connections in order (shared/lane-delivery.ts). */
export function createDeliverHandler(runtime: () => Promise<Runtime>) {
  return async (event: unknown, context?: InvocationContext) => {
    const rt = await runtime();
    return handleSqsBatch(rt, event, context, {
      name: 'deliver',
      queueUrl: rt.config.deliveryQueueUrl,
      fifo: PIPELINE.delivery.fifo,
      process: (records, deadline) => deliverRecords(rt, records, deadline),
    });
  };
}

export const handler = createDeliverHandler(defaultRuntime);
