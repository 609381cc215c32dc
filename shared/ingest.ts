import { createHash } from 'node:crypto';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { snsEnvelopeSchema, type SqsRecord } from './lambda-events';
import { ORDER_GROUP_ID } from './pipeline';
import { parsePublishMessage, type PublishedEvent } from './publish-message';
import type { Runtime } from './runtime';
import { sendBatches } from './sqs-batch';
import { sqsFor } from './sqs-client';
import { errorDetails } from './telemetry';

/**
 * The `fanout` stage: SNS notifications arrive through the ingest queue; each is validated (protocol
 * §4) and forwarded to the order queue (FIFO, one group), deduplicated there by its `id` for SQS's
 * 5-minute window. An invalid message is rejected with a log line naming why and a metric, and
 * never fails the other records.
 */
export interface IngestReport {
  forwarded: number;
  invalid: number;
  failed: Set<string>;
}

export function orderDeduplicationId(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** Body of an order-queue message. */
export function orderMessageBody(event: PublishedEvent): string {
  return JSON.stringify({ id: event.id, channels: event.channels, event: event.event, data: event.data });
}

export async function ingest(rt: Runtime, records: readonly SqsRecord[]): Promise<IngestReport> {
  const report: IngestReport = { forwarded: 0, invalid: 0, failed: new Set() };
  const valid: { record: SqsRecord; event: PublishedEvent; body: string }[] = [];
  for (const record of records) {
    let envelope: unknown;
    try {
      envelope = JSON.parse(record.body);
    } catch {
      envelope = undefined;
    }
    const sns = snsEnvelopeSchema.safeParse(envelope);
    if (!sns.success) {
      report.invalid++;
      rt.log.warn('rejected a queue message that is not an SNS notification', { sqsMessageId: record.messageId });
      rt.metrics.count('InvalidMessage');
      continue;
    }
    const parsed = parsePublishMessage(sns.data.Message, sns.data.MessageId);
    if (!parsed.ok) {
      report.invalid++;
      rt.log.warn('rejected invalid message', { snsMessageId: sns.data.MessageId, reason: parsed.reason });
      rt.metrics.count('InvalidMessage');
      continue;
    }
    valid.push({ record, event: parsed.event, body: orderMessageBody(parsed.event) });
  }
  const queueUrl = rt.config.orderQueueUrl;
  if (valid.length > 0 && !queueUrl)
    throw new Error('SWITCHBOARD_ORDER_QUEUE_URL is not set: fanout cannot forward events');
  // Requests of ≤ 10 entries and ≤ 250 KB (a message's data is ≤ 32 KB).
  const requests = sendBatches(valid, (v) => v.body);
  await Promise.all(
    requests.map(async (req) => {
      try {
        const r = await sqsFor(rt).send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: req.map((v, i) => ({
              Id: String(i),
              MessageBody: v.body,
              MessageGroupId: ORDER_GROUP_ID,
              MessageDeduplicationId: orderDeduplicationId(v.event.id),
            })),
          }),
        );
        const failed = new Set((r.Failed ?? []).map((f) => Number(f.Id)));
        req.forEach((v, i) => (failed.has(i) ? report.failed.add(v.record.messageId) : report.forwarded++));
        for (const f of r.Failed ?? [])
          rt.log.warn('the order queue refused a message; it will be retried', { code: f.Code, message: f.Message });
      } catch (err) {
        rt.log.error('forwarding to the order queue failed; the records will be retried', {
          records: req.length,
          ...errorDetails(err),
        });
        for (const v of req) report.failed.add(v.record.messageId);
      }
    }),
  );
  if (report.forwarded > 0) rt.metrics.count('Accepted', report.forwarded);
  return report;
}
