import { ConnectionStore, FRESH_SUBSCRIPTION_MS } from '../../shared/store/connections';
import { readStats } from '../../shared/store/stats';
import { pipelineForFile } from '../helpers/pipeline';

/**
 * `/stats` `delivered` through the real pipeline: the sequencer counts the frames it hands to the
 * lanes once per event, and a deliver batch takes back the frames it gave up, so the counter ends at
 * the frames connections were actually sent.
 */
const f = pipelineForFile();

const sumOf = (message: string, field: string) =>
  f.t.telemetry.lines.filter((l) => l.message === message).reduce((n, l) => n + Number(l.extra?.[field] ?? 0), 0);

test('delivered counts the frames sent, not those left for a connection found gone', async () => {
  const conns = new ConnectionStore(f.t.rt.db, 3600);
  const identity = { sub: 'u', role: 'admin', exp: 4_000_000_000 };
  for (const id of ['sd-1', 'sd-2', 'sd-gone']) await conns.create(id, identity, ['sd']);
  f.t.mgmt.gone.add('sd-gone');
  // Established long ago: its 410 means gone (not "still in $connect"), and it is removed.
  f.t.clock.advance(FRESH_SUBSCRIPTION_MS + 1);
  const ids = ['sd-e1', 'sd-e2', 'sd-e3'];
  for (const id of ids) await f.p.publish({ channels: ['sd'], event: 'e', id });

  await f.t.mgmt.waitFor(
    () => f.t.mgmt.framesFor('sd-1').length === 3 && f.t.mgmt.framesFor('sd-2').length === 3,
    20_000,
  );
  // Every frame the sequencer handed over has been settled by a deliver invocation (which logs after
  // its /stats write), whichever batches the three events and the 410 clean-up fell into.
  await f.p.until(() => {
    const sequenced = f.t.telemetry.lines.filter((l) => l.message === 'sequenced');
    return (
      sequenced.reduce((n, l) => n + Number(l.extra?.recorded ?? 0), 0) === 3 &&
      sumOf('delivered', 'frames') >= sumOf('sequenced', 'connections')
    );
  });

  const handedOver = sumOf('sequenced', 'connections');
  expect(handedOver).toBeGreaterThan(6); // the gone connection was a target at least once
  const stats = await readStats(f.t.rt.db);
  expect(stats).toMatchObject({ published: 3, delivered: 6 });
  expect(f.t.mgmt.framesFor('sd-gone')).toEqual([]);
});
