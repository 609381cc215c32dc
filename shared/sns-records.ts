import { publish, type PublishReport } from './fanout-engine';
import type { SnsEvent } from './lambda-events';
import { managementEndpointFor } from './management-api';
import { parsePublishMessage } from './publish-message';
import type { Runtime } from './runtime';
import { errorDetails } from './telemetry';

/** Validates and publishes each SNS record independently (protocol §4). */
export interface RecordsSummary {
  published: number;
  duplicates: number;
  invalid: number;
  failed: number;
  reports: PublishReport[];
}

export async function processSnsRecords(rt: Runtime, records: SnsEvent['Records']): Promise<RecordsSummary> {
  const summary: RecordsSummary = { published: 0, duplicates: 0, invalid: 0, failed: 0, reports: [] };
  const poster = rt.poster(managementEndpointFor(rt.config.managementEndpoint, undefined, undefined));
  await Promise.all(
    records.map(async ({ Sns }) => {
      const parsed = parsePublishMessage(Sns.Message, Sns.MessageId);
      if (!parsed.ok) {
        summary.invalid++;
        rt.log.warn('rejected invalid message', { snsMessageId: Sns.MessageId, reason: parsed.reason });
        rt.metrics.count('InvalidMessage');
        return;
      }
      try {
        const report = await publish({ db: rt.db, config: rt.config, poster, log: rt.log }, parsed.event);
        summary.reports.push(report);
        if (report.duplicate) {
          summary.duplicates++;
          rt.metrics.count('DuplicateMessage');
          rt.log.info('dropped duplicate message', { id: report.id, snsMessageId: Sns.MessageId });
          return;
        }
        summary.published++;
        rt.metrics.count('Published');
        rt.metrics.count('Delivered', report.delivery.delivered);
        if (report.delivery.gone.length) rt.metrics.count('GoneConnections', report.delivery.gone.length);
        if (report.delivery.failed.length) rt.metrics.count('FailedDeliveries', report.delivery.failed.length);
        rt.log.info('published', {
          id: report.id,
          event: parsed.event.event,
          seqs: report.seqs,
          connections: report.connections,
          delivered: report.delivery.delivered,
          gone: report.delivery.gone.length,
          failed: report.delivery.failed.length,
          retries: report.delivery.retries,
          posts: report.delivery.posts,
          ops: report.ops,
        });
        for (const f of report.delivery.failed.slice(0, 10)) rt.log.warn('delivery failed', { id: report.id, ...f });
      } catch (err) {
        summary.failed++;
        rt.metrics.count('FailedMessage');
        rt.log.error('publish failed; the record will be retried', { id: parsed.event.id, snsMessageId: Sns.MessageId, ...errorDetails(err) });
      }
    }),
  );
  return summary;
}
