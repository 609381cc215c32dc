import { fullJitterDelay, sleep } from './backoff';
import type { SqsRecord } from './lambda-events';
import type { PublishedEvent } from './publish-message';
import type { Runtime } from './runtime';
import type { BatchOutcome } from './sqs-batch';
import { sequence, type OrderedMessage } from './sequencer';
import { sqsFor } from './sqs-client';
import { SnapshotStaleError } from './store/event-log';
import { errorDetails } from './telemetry';

/**
 * Order-queue records → `sequence`. Transient failures (a throttled DynamoDB call, a stale snapshot,
 * SQS refusing a send) are retried here, in the same invocation, with backoff until the deadline:
 * the order queue has one message group, and every second it waits on an SQS retry is a second
 * every event waits.
 */
export async function sequenceRecords(
  rt: Runtime,
  records: readonly SqsRecord[],
  deadline: number,
): Promise<BatchOutcome> {
  const messages: OrderedMessage[] = [];
  for (const r of records) {
    const events = parseOrderBody(r.body);
    if (!events) {
      // Only fanout writes to this queue; a body it did not write cannot be sequenced: drop it loudly.
      rt.log.error('dropped an order-queue message that is not an event', { sqsMessageId: r.messageId });
      rt.metrics.count('InvalidMessage');
      continue;
    }
    for (const event of events) messages.push({ messageId: r.messageId, event });
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const report = await sequence({ db: rt.db, sqs: sqsFor(rt), config: rt.config, log: rt.log, deadline }, messages);
      if (report.recorded) rt.metrics.count('Published', report.recorded);
      if (report.duplicates) rt.metrics.count('DuplicateMessage', report.duplicates);
      rt.log.info('sequenced', {
        events: messages.length,
        recorded: report.recorded,
        retried: report.retried,
        duplicates: report.duplicates,
        connections: report.connections,
        laneMessages: report.laneMessages,
        ms: report.ms,
        plan: report.plan,
      });
      return { failed: new Set() };
    } catch (err) {
      const wait = fullJitterDelay(attempt, 50, 1000) + 20;
      const stale = err instanceof SnapshotStaleError;
      rt.log.warn('sequencing failed; retrying', { attempt, stale, ...errorDetails(err) });
      if (rt.clock.now() + wait >= deadline) throw err;
      await sleep(wait);
    }
  }
}

/**
 * An order-queue message's events: `{"events":[...]}` (shared/ingest.ts), or the single event a
 * message sent before events were packed carries. Undefined when it is neither.
 */
export function parseOrderBody(body: string): PublishedEvent[] | undefined {
  let m: unknown;
  try {
    m = JSON.parse(body);
  } catch {
    return undefined;
  }
  const list: unknown[] =
    m !== null && typeof m === 'object' && Array.isArray((m as { events?: unknown }).events)
      ? (m as { events: unknown[] }).events
      : [m];
  const events = list.map(orderEvent);
  return events.length > 0 && events.every((e) => e !== undefined) ? events : undefined;
}

function orderEvent(v: unknown): PublishedEvent | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const m = v as Partial<PublishedEvent>;
  if (typeof m.id !== 'string' || typeof m.event !== 'string' || !Array.isArray(m.channels) || m.channels.length === 0)
    return undefined;
  return { id: m.id, event: m.event, channels: m.channels.map(String), data: m.data ?? null };
}
