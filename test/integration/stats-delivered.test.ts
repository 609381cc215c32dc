import { FRESH_SUBSCRIPTION_MS } from '../../shared/sequencer';
import { ConnectionStore } from '../../shared/store/connections';
import { readStats } from '../../shared/store/stats';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline';
import { testRuntime, type TestRuntime } from '../helpers/runtime';

/**
 * `/stats` `delivered` through the real pipeline: the sequencer counts the frames it hands to the
 * lanes once per event, and a deliver batch takes back the frames it gave up, so the counter ends at
 * the frames connections were actually sent.
 */
let t: TestRuntime;
let p: TestPipeline;
beforeAll(async () => {
  t = await testRuntime();
  p = await startTestPipeline(t);
}, 60_000);
afterAll(async () => {
  await p.stop();
  await t.stop();
});

const sumOf = (message: string, field: string) =>
  t.telemetry.lines.filter((l) => l.message === message).reduce((n, l) => n + Number(l.extra?.[field] ?? 0), 0);

test('delivered counts the frames sent, not those left for a connection found gone', async () => {
  const conns = new ConnectionStore(t.rt.db, 3600);
  const identity = { sub: 'u', role: 'admin', exp: 4_000_000_000 };
  for (const id of ['sd-1', 'sd-2', 'sd-gone']) await conns.create(id, identity, ['sd']);
  t.mgmt.gone.add('sd-gone');
  // Established long ago: its 410 means gone (not "still in $connect"), and it is removed.
  t.clock.advance(FRESH_SUBSCRIPTION_MS + 1);
  const ids = ['sd-e1', 'sd-e2', 'sd-e3'];
  for (const id of ids) await p.publish({ channels: ['sd'], event: 'e', id });

  await t.mgmt.waitFor(() => t.mgmt.framesFor('sd-1').length === 3 && t.mgmt.framesFor('sd-2').length === 3, 20_000);
  // Every frame the sequencer handed over has been settled by a deliver invocation (which logs after
  // its /stats write), whichever batches the three events and the 410 clean-up fell into.
  await p.until(() => {
    const sequenced = t.telemetry.lines.filter((l) => l.message === 'sequenced');
    return (
      sequenced.reduce((n, l) => n + Number(l.extra?.recorded ?? 0), 0) === 3 &&
      sumOf('delivered', 'frames') === sumOf('sequenced', 'connections')
    );
  });

  const handedOver = sumOf('sequenced', 'connections');
  expect(handedOver).toBeGreaterThan(6); // the gone connection was a target at least once
  const stats = await readStats(t.rt.db);
  expect(stats).toMatchObject({ published: 3, delivered: 6 });
  expect(t.mgmt.framesFor('sd-gone')).toEqual([]);
});
