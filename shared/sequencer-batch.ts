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
    const event = parseOrderBody(r.body);
    if (!event) {
      // Only fanout writes to this queue; a body it did not write cannot be sequenced: drop it loudly.
      rt.log.error('dropped an order-queue message that is not an event', { sqsMessageId: r.messageId });
      rt.metrics.count('InvalidMessage');
      continue;
    }
    messages.push({ messageId: r.messageId, event });
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const report = await sequence({ db: rt.db, sqs: sqsFor(rt), config: rt.config, log: rt.log }, messages);
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

function parseOrderBody(body: string): PublishedEvent | undefined {
  try {
    const m = JSON.parse(body) as Partial<PublishedEvent>;
    if (
      typeof m.id !== 'string' ||
      typeof m.event !== 'string' ||
      !Array.isArray(m.channels) ||
      m.channels.length === 0
    )
      return undefined;
    return { id: m.id, event: m.event, channels: m.channels.map(String), data: m.data ?? null };
  } catch {
    return undefined;
  }
}
