import { processSnsRecords } from '../shared/sns-records';
import { snsEventSchema } from '../shared/lambda-events';
import { defaultRuntime, type Runtime } from '../shared/runtime';

/**
 * SNS → fan-out. Every record is handled on its own: an invalid message is logged and counted and
 * never fails the batch; if a valid record fails, the others still complete and the invocation then
 * throws, so Lambda retries it (idempotency keys keep the others from being delivered twice).
 */
export function createFanoutHandler(runtime: () => Promise<Runtime>) {
  return async (event: unknown): Promise<void> => {
    const rt = await runtime();
    const parsed = snsEventSchema.safeParse(event);
    if (!parsed.success) {
      rt.log.error('fanout received an event that is not an SNS event', { issues: parsed.error.issues.map((i) => i.path.join('.')).slice(0, 5) });
      rt.metrics.count('InvalidEvent');
      rt.metrics.flush();
      return;
    }
    try {
      const summary = await processSnsRecords(rt, parsed.data.Records);
      if (summary.failed > 0) throw new Error(`${summary.failed} of ${parsed.data.Records.length} records failed; Lambda will retry them`);
    } finally {
      rt.metrics.flush();
    }
  };
}

export const handler = createFanoutHandler(defaultRuntime);
