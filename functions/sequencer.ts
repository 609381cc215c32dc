import type { InvocationContext } from '../shared/lambda-events';
import { PIPELINE } from '../shared/pipeline';
import { defaultRuntime, type Runtime } from '../shared/runtime';
import { sequenceRecords } from '../shared/sequencer-batch';
import { handleSqsBatch } from '../shared/sqs-batch';

/** Order queue (SQS FIFO) → seqs, history, delivery lanes (shared/sequencer.ts). */
export function createSequencerHandler(runtime: () => Promise<Runtime>) {
  return async (event: unknown, context?: InvocationContext) => {
    const rt = await runtime();
    return handleSqsBatch(rt, event, context, {
      name: 'sequencer',
      queueUrl: rt.config.orderQueueUrl,
      fifo: PIPELINE.order.fifo,
      process: (records, deadline) => sequenceRecords(rt, records, deadline),
    });
  };
}

export const handler = createSequencerHandler(defaultRuntime);
