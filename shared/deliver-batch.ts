import { dropConnections } from './connections-lifecycle';
import { deliverLanes, laneDeliveryOptions, type LaneDeliveryReport } from './lane-delivery';
import type { SqsRecord } from './lambda-events';
import { resolveLaneMessages } from './lane-refs';
import { parseLaneMessage, type LaneMessage } from './lanes';
import { posterFor } from './lean-poster';
import { managementEndpointFor } from './management-api';
import type { Runtime } from './runtime';
import type { BatchOutcome } from './sqs-batch';
import type { Db } from './store/db';
import { addStats } from './store/stats';
import { errorDetails } from './telemetry';

/** Delivery-queue records → posts; connections that answered 410 are removed afterwards. */
export async function deliverRecords(
  rt: Runtime,
  records: readonly SqsRecord[],
  deadline: number,
): Promise<BatchOutcome> {
  const messages: LaneMessage[] = [];
  const retried: boolean[] = [];
  for (const r of records) {
    const m = parseLaneMessage(r.body);
    if (m) {
      messages.push(m);
      retried.push(Number(r.attributes?.ApproximateReceiveCount ?? '1') > 1);
    } else {
      rt.log.error('dropped a delivery-queue message that is not a lane message', { sqsMessageId: r.messageId });
      rt.metrics.count('InvalidMessage');
    }
  }
  const { messages: resolved, missing, missingFrames, read } = await resolveLaneMessages(rt.db, messages);
  if (missing.length > 0) {
    // Past the history's TTL: nothing to post. Their subscribers see the gap by seq.
    rt.log.warn('events of lane messages no longer in history; their frames are not posted', { missing });
    rt.metrics.count('MissingEventData', missing.length);
  }
  const poster = posterFor(rt, managementEndpointFor(rt.config.managementEndpoint, undefined, undefined));
  const report = await deliverLanes(
    poster,
    resolved,
    laneDeliveryOptions(rt.config, deadline, rt.postLimiter),
    retried,
  );
  const counting = takeBackUndelivered(rt.db, report, missingFrames).catch((err: unknown) =>
    rt.log.warn('could not update stats', errorDetails(err)),
  );
  const cleaned = await removeGone(rt, report.gone);
  await counting;
  rt.metrics.count('Delivered', report.delivered);
  if (report.skipped) rt.metrics.count('SkippedDeliveries', report.skipped);
  if (report.gone.length) rt.metrics.count('GoneConnections', report.gone.length);
  rt.log.info('delivered', { ...report, gone: report.gone.length, cleaned, historyReads: read });
  // Out of time before every post was tried: the whole batch comes back (repeats carry the same ids).
  return { failed: report.unfinished > 0 ? new Set(records.map((r) => r.messageId)) : new Set() };
}

/**
 * Deletes connections that answered 410 Gone, with all their subscriptions; their users leave the
 * presence channels where these were their last connections (shared/connections-lifecycle.ts).
 */
export async function removeGone(
  rt: Pick<Runtime, 'db' | 'config' | 'log' | 'policy' | 'onDemand'>,
  gone: readonly string[],
): Promise<number> {
  if (gone.length === 0) return 0;
  const poster = () => posterFor(rt, managementEndpointFor(rt.config.managementEndpoint, undefined, undefined));
  const results = await dropConnections(rt, poster, gone, 'gone');
  results.forEach((r, i) => {
    if (r.status === 'rejected')
      rt.log.warn('could not remove gone connection', { connectionId: gone[i], ...errorDetails(r.reason) });
  });
  return results.filter((r) => r.status === 'fulfilled').length;
}

/**
 * The sequencer counted every frame of an event as delivered when it handed them to the lanes; a
 * finished batch takes back the frames it gave up (skipped after their retries, left for a connection
 * found gone, or whose event is no longer in history). An unfinished batch comes back and decides then.
 * So a batch that posted everything, the usual case, writes no counter.
 */
export async function takeBackUndelivered(db: Db, report: LaneDeliveryReport, missingFrames: number): Promise<void> {
  if (report.unfinished > 0) return;
  const undelivered = report.frames - report.delivered - report.alreadyPosted - report.superseded + missingFrames;
  if (undelivered > 0) await addStats(db, { delivered: -undelivered });
}
