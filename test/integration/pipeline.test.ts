import { createDeliverHandler } from '../../functions/deliver';
import { createFanoutHandler } from '../../functions/fanout';
import { createSequencerHandler } from '../../functions/sequencer';
import { ConnectionStore } from '../../shared/store/connections';
import { pipelineForFile } from '../helpers/pipeline';

/**
 * The pipeline in process: SNS → ingest → fanout → order (FIFO) → sequencer → lanes → deliver, on
 * the SQS emulator, DynamoDB Local and a real HTTP management API.
 */
const f = pipelineForFile();

const identity = { sub: 'u', role: 'admin', exp: 4_000_000_000 };
const conns = () => new ConnectionStore(f.t.rt.db, 3600);

test('one frame per connection with the seqs of every channel it has; channel is the first in event order', async () => {
  await conns().create('p-both', identity, ['pa_1', 'pa_2']);
  await conns().create('p-second', identity, ['pa_2']);
  await f.p.publish({ channels: ['pa_1', 'pa_2'], event: 'create', data: { booking_id: 9 }, id: 'evt-pa-1' });
  await f.t.mgmt.waitFor(
    () => f.t.mgmt.framesFor('p-both').length > 0 && f.t.mgmt.framesFor('p-second').length > 0,
    20_000,
  );
  expect(f.t.mgmt.framesFor('p-both')).toEqual([
    {
      type: 'event',
      id: 'evt-pa-1',
      event: 'create',
      data: { booking_id: 9 },
      ts: f.t.clock.now(),
      channel: 'pa_1',
      seqs: { pa_1: 1, pa_2: 1 },
    },
  ]);
  expect(f.t.mgmt.framesFor('p-second')).toEqual([expect.objectContaining({ channel: 'pa_2', seqs: { pa_2: 1 } })]);
});

test('publishers racing on one channel: seqs 1..N once each, every connection in seq order', async () => {
  await conns().create('p-race-1', identity, ['race']);
  await conns().create('p-race-2', identity, ['race']);
  await Promise.all(
    Array.from({ length: 5 }, (_, w) =>
      (async () => {
        for (let i = 0; i < 8; i++)
          await f.p.publish({ channels: ['race'], event: 'tick', data: { w, i }, id: `race-${w}-${i}` });
      })(),
    ),
  );
  await f.t.mgmt.waitFor(
    () => f.t.mgmt.framesFor('p-race-1').length >= 40 && f.t.mgmt.framesFor('p-race-2').length >= 40,
    30_000,
  );
  for (const c of ['p-race-1', 'p-race-2'])
    expect(f.t.mgmt.framesFor(c).map((f) => (f.seqs as Record<string, number>).race)).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
  expect(new Set(f.t.mgmt.framesFor('p-race-1').map((f) => f.id)).size).toBe(40);
});

test('invalid messages are rejected with a reason and a metric; the valid one beside them goes through once', async () => {
  await conns().create('p-mixed', identity, ['mixed']);
  const before = f.t.telemetry.counters.InvalidMessage ?? 0;
  await f.p.publish('not json');
  await f.p.publish({ channels: ['bad name!'], event: 'x' });
  await f.p.publish({ channels: ['mixed'], event: 'ok', id: 'mixed-ok' });
  await f.p.publish({ channels: ['mixed'], event: 'ok', id: 'mixed-ok' });
  await f.p.publish({ channels: ['mixed'], event: 'after', id: 'mixed-after' });
  await f.t.mgmt.waitFor(() => f.t.mgmt.framesFor('p-mixed').length >= 2, 20_000);
  expect(f.t.mgmt.framesFor('p-mixed').map((f) => f.id)).toEqual(['mixed-ok', 'mixed-after']);
  expect((f.t.telemetry.counters.InvalidMessage ?? 0) - before).toBe(2);
  expect(
    f.t.telemetry.lines.some(
      (l) => l.message === 'rejected invalid message' && /channel/.test(String(l.extra?.reason)),
    ),
  ).toBe(true);
});

test('each handler answers an event that is not from SQS with a log line and no failure', async () => {
  for (const make of [createFanoutHandler, createSequencerHandler, createDeliverHandler]) {
    expect(await make(async () => f.t.rt)({ Records: 'nope' })).toEqual({ batchItemFailures: [] });
  }
  expect(f.t.telemetry.lines.filter((l) => /is not an SQS event/.test(l.message))).toHaveLength(3);
});
