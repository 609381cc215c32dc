import { VISIBILITY_FACTOR } from '../../shared/pipeline';
import type { Resources } from './synth';

const getAtt = (ref: unknown): string => (ref as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

/**
 * Invariants of every SQS event source in a template, checked from the template alone: the queue's
 * visibility timeout is at least VISIBILITY_FACTOR × the consumer's timeout (else a slow invocation's
 * messages reappear while it still works on them), and the queue has a dead-letter queue of the same
 * kind (else a poison message is retried until it expires, holding up its FIFO group).
 */
export function pipelineViolations(all: Resources): string[] {
  const problems: string[] = [];
  for (const [id, esm] of Object.entries(all).filter(([, r]) => r.Type === 'AWS::Lambda::EventSourceMapping')) {
    const queue = all[getAtt(esm.Properties!.EventSourceArn)];
    const fn = all[(esm.Properties!.FunctionName as { Ref: string }).Ref];
    if (queue?.Type !== 'AWS::SQS::Queue' || fn?.Type !== 'AWS::Lambda::Function') {
      problems.push(`${id}: not an SQS queue feeding a function`);
      continue;
    }
    const q = queue.Properties ?? {};
    const timeout = Number(fn.Properties!.Timeout ?? 3);
    if (!(Number(q.VisibilityTimeout ?? 30) >= VISIBILITY_FACTOR * timeout))
      problems.push(`${id}: visibility timeout ${q.VisibilityTimeout ?? 30} s < ${VISIBILITY_FACTOR} × ${timeout} s`);
    const dlq = q.RedrivePolicy?.deadLetterTargetArn ? all[getAtt(q.RedrivePolicy.deadLetterTargetArn)] : undefined;
    if (dlq?.Type !== 'AWS::SQS::Queue') problems.push(`${id}: source queue has no dead-letter queue`);
    else if (Boolean(dlq.Properties?.FifoQueue) !== Boolean(q.FifoQueue))
      problems.push(`${id}: dead-letter queue is not of the same kind (FIFO) as its source`);
    if (!(q.RedrivePolicy?.maxReceiveCount >= 1)) problems.push(`${id}: no maxReceiveCount`);
    if (!(esm.Properties!.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'))
      problems.push(`${id}: no partial batch failure reports`);
  }
  return problems;
}
