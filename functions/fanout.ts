import { ingest } from '../shared/ingest';
import { PIPELINE } from '../shared/pipeline';
import { defaultRuntime, type Runtime } from '../shared/runtime';
import { sqsHandler } from '../shared/sqs-batch';

/** Ingest queue (SNS notifications) → validate → order queue (shared/ingest.ts). */
export function createFanoutHandler(runtime: () => Promise<Runtime>) {
  return sqsHandler(runtime, {
    name: 'fanout',
    stage: PIPELINE.ingest,
    queueUrl: (c) => c.ingestQueueUrl,
    process: async (rt, records) => ({ failed: (await ingest(rt, records)).failed }),
  });
}

export const handler = createFanoutHandler(defaultRuntime);
