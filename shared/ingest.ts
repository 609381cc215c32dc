import { createHash } from 'node:crypto';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { snsEnvelopeSchema, type SqsRecord } from './lambda-events';
import { ORDER_GROUP_ID, ORDER_MESSAGE_MAX_BYTES, ORDER_MESSAGE_MAX_EVENTS } from './pipeline';
import { parsePublishMessage, type PublishedEvent } from './publish-message';
import type { Runtime } from './runtime';
import { sendBatches } from './sqs-batch';
import { sqsFor } from './sqs-client';
import { errorDetails } from './telemetry';

/**
 * The `fanout` stage: SNS notifications arrive through the ingest queue; each is validated (protocol
 * §4) and forwarded to the order queue (FIFO, one group). The valid events of a batch are packed
 * into as few order messages as ORDER_MESSAGE_MAX_EVENTS / _BYTES allow (shared/pipeline.ts), in
 * the order they came, each deduplicated by SQS for 5 minutes by the ids it carries. An event id
 * seen twice in one batch travels once (both records are acknowledged with that message). An
 * invalid message is rejected with a log line naming why and a metric, and never fails the others.
 */
export interface IngestReport {
  forwarded: number;
  invalid: number;
  failed: Set<string>;
  /** Order-queue messages sent. */
  messages: number;
}

/** An order-queue message: the events it carries and the ingest records it acknowledges. */
export interface OrderMessage {
  events: PublishedEvent[];
  records: SqsRecord[];
  body: string;
}

export function orderDeduplicationId(ids: readonly string[]): string {
  return createHash('sha256').update(ids.join('\n')).digest('hex');
}

/** Body of an order-queue message: `{"events":[{id, channels, event, data}, ...]}`. */
export function orderMessageBody(events: readonly PublishedEvent[]): string {
  return bodyOf(events.map(eventBody));
}

const bodyOf = (parts: readonly string[]) => `{"events":[${parts.join(',')}]}`;

function eventBody(event: PublishedEvent): string {
  return JSON.stringify({ id: event.id, channels: event.channels, event: event.event, data: event.data });
}

/** Packs events (in order) into order messages of at most `maxEvents` events and `maxBytes` bytes. */
export function packOrderMessages(
  valid: readonly { record: SqsRecord; event: PublishedEvent }[],
  limits: { maxEvents: number; maxBytes: number } = {
    maxEvents: ORDER_MESSAGE_MAX_EVENTS,
    maxBytes: ORDER_MESSAGE_MAX_BYTES,
  },
): OrderMessage[] {
  const out: (OrderMessage & { parts: string[]; bytes: number })[] = [];
  const byId = new Map<string, OrderMessage>();
  for (const { record, event } of valid) {
    const earlier = byId.get(event.id);
    if (earlier) {
      earlier.records.push(record); // the same event again: acknowledged with the message that carries it
      continue;
    }
    const part = eventBody(event);
    const size = Buffer.byteLength(part) + 1;
    let cur = out.at(-1);
    if (!cur || cur.events.length >= limits.maxEvents || cur.bytes + size > limits.maxBytes) {
      cur = { events: [], records: [], body: '', parts: [], bytes: bodyOf([]).length };
      out.push(cur);
    }
    cur.events.push(event);
    cur.records.push(record);
    cur.parts.push(part);
    cur.bytes += size;
    byId.set(event.id, cur);
  }
  return out.map(({ events, records, parts }) => ({ events, records, body: bodyOf(parts) }));
}

export async function ingest(rt: Runtime, records: readonly SqsRecord[]): Promise<IngestReport> {
  const report: IngestReport = { forwarded: 0, invalid: 0, failed: new Set(), messages: 0 };
  const valid: { record: SqsRecord; event: PublishedEvent }[] = [];
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
    valid.push({ record, event: parsed.event });
  }
  const queueUrl = rt.config.orderQueueUrl;
  if (valid.length > 0 && !queueUrl)
    throw new Error('SWITCHBOARD_ORDER_QUEUE_URL is not set: fanout cannot forward events');
  const messages = packOrderMessages(valid);
  // Requests of ≤ 10 entries and ≤ 250 KB; in order, so a batch's events reach the group in order.
  for (const req of sendBatches(messages, (m) => m.body)) {
    try {
      const r = await sqsFor(rt).send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: req.map((m, i) => ({
            Id: String(i),
            MessageBody: m.body,
            MessageGroupId: ORDER_GROUP_ID,
            MessageDeduplicationId: orderDeduplicationId(m.events.map((e) => e.id)),
          })),
        }),
      );
      const failed = new Set((r.Failed ?? []).map((f) => Number(f.Id)));
      req.forEach((m, i) => {
        if (failed.has(i)) for (const rec of m.records) report.failed.add(rec.messageId);
        else {
          report.forwarded += m.records.length;
          report.messages++;
        }
      });
      for (const f of r.Failed ?? [])
        rt.log.warn('the order queue refused a message; it will be retried', { code: f.Code, message: f.Message });
    } catch (err) {
      rt.log.error('forwarding to the order queue failed; the records will be retried', {
        records: req.reduce((n, m) => n + m.records.length, 0),
        ...errorDetails(err),
      });
      for (const m of req) for (const rec of m.records) report.failed.add(rec.messageId);
    }
  }
  if (report.forwarded > 0) rt.metrics.count('Accepted', report.forwarded);
  return report;
}
