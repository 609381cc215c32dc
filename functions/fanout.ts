import { ingest } from '../shared/ingest';
import type { InvocationContext } from '../shared/lambda-events';
import { PIPELINE } from '../shared/pipeline';
import { defaultRuntime, type Runtime } from '../shared/runtime';
import { handleSqsBatch } from '../shared/sqs-batch';

/** Ingest queue (SNS notifications) → validate → order queue (shared/ingest.ts). */
export function createFanoutHandler(runtime: () => Promise<Runtime>) {
  return async (event: unknown, context?: InvocationContext) => {
    const rt = await runtime();
    return handleSqsBatch(rt, event, context, {
      name: 'fanout',
      queueUrl: rt.config.ingestQueueUrl,
      fifo: PIPELINE.ingest.fifo,
      process: async (records) => ({ failed: (await ingest(rt, records)).failed }),
    });
  };
}

export const handler = createFanoutHandler(defaultRuntime);
