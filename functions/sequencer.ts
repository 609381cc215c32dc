import { PIPELINE } from '../shared/pipeline';
import { defaultRuntime, type Runtime } from '../shared/runtime';
import { sequenceRecords } from '../shared/sequencer-batch';
import { sqsHandler } from '../shared/sqs-batch';

/** Order queue (SQS FIFO) → seqs, history, delivery lanes (shared/sequencer.ts). */
export function createSequencerHandler(runtime: () => Promise<Runtime>) {
  return sqsHandler(runtime, {
    name: 'sequencer',
    stage: PIPELINE.order,
    queueUrl: (c) => c.orderQueueUrl,
    process: sequenceRecords,
  });
}

export const handler = createSequencerHandler(defaultRuntime);
