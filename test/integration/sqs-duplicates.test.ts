import { parseFaults } from '../../local/faults';
import { ConnectionStore } from '../../shared/store/connections';
import { pipelineForFile } from '../helpers/pipeline';

/**
 * SNS and SQS standard queues deliver at least once. With `sqs_duplicate=1` every message the ingest
 * queue hands out also goes to a second fanout invocation at the same time: each event must still
 * take one seq and reach each connection once, in seq order.
 */
const f = pipelineForFile({ faults: parseFaults('sqs_duplicate=1', '11') });

const seqsOf = (id: string) => f.t.mgmt.framesFor(id).map((f) => (f.seqs as Record<string, number>).dup);

test('every ingest message delivered twice, concurrently: one seq per event, each connection gets it once', async () => {
  const conns = new ConnectionStore(f.t.rt.db, 3600);
  const identity = { sub: 'u', role: 'admin', exp: 4_000_000_000 };
  await conns.create('dup-1', identity, ['dup']);
  await conns.create('dup-2', identity, ['dup']);
  await Promise.all(
    Array.from({ length: 5 }, (_, w) =>
      (async () => {
        for (let i = 0; i < 6; i++)
          await f.p.publish({ channels: ['dup'], event: 'tick', data: { w, i }, id: `dup-${w}-${i}` });
      })(),
    ),
  );
  const copies = () =>
    f.p.events.reduce((n, e) => n + (e.type === 'duplicated' && e.fn === 'fanout' ? e.records : 0), 0);
  // Every copy has been forwarded to the order queue (or refused as a repeat there)...
  await f.p.until(() => copies() >= 30 && (f.t.telemetry.counters.Accepted ?? 0) >= 30 + copies());
  // ...so the order queue's one group holds them ahead of this last event: once it is delivered, so is
  // anything a copy could have caused.
  await f.p.publish({ channels: ['dup'], event: 'last', id: 'dup-last' });
  await f.t.mgmt.waitFor(
    () => ['dup-1', 'dup-2'].every((c) => f.t.mgmt.framesFor(c).some((f) => f.id === 'dup-last')),
    30_000,
  );
  for (const c of ['dup-1', 'dup-2']) {
    expect(seqsOf(c)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    expect(new Set(f.t.mgmt.framesFor(c).map((f) => f.id)).size).toBe(31);
  }
});
