import { deliverLanes, resetSlowConnections } from '../../shared/lane-delivery';
import { frameHead, type LaneMessage } from '../../shared/lanes';
import { ManagementApiPoster, managementClient } from '../../shared/management-api';
import { TestManagementServer } from '../helpers/management-server';

/** The deliver stage against a real HTTP management API (429 / 410 on demand), through the real SDK client. */
let mgmt: TestManagementServer;
let poster: ManagementApiPoster;
beforeAll(async () => {
  mgmt = await new TestManagementServer().start();
  poster = new ManagementApiPoster(managementClient(mgmt.endpoint, 8, 1000));
});
afterAll(() => mgmt.stop());
beforeEach(() => resetSlowConnections());

const message = (seqs: number[], targets: [string, 1?][], channel = 'ld'): LaneMessage => ({
  v: 1,
  events: seqs.map((seq) => ({ head: frameHead({ id: `${channel}-${seq}`, event: 'e', data: seq }, 1), targets: targets.map(([c, fresh]) => (fresh ? [c, { [channel]: seq }, 1] : [c, { [channel]: seq }])) })),
});
const seqsOf = (c: string, channel = 'ld') => mgmt.framesFor(c).map((f) => (f.seqs as Record<string, number>)[channel]);
const opts = (retryBudgetMs = 1000) => ({ concurrency: 4, retryBudgetMs, deadline: Date.now() + 30_000 });

test('each connection gets its frames in order; a 429 is retried within the budget, then that frame is skipped, never reordered', async () => {
  mgmt.failNext.set('ld-a', { status: 429, times: 2 });
  mgmt.failNext.set('ld-b', { status: 429, times: 1000 });
  const r = await deliverLanes(poster, [message([1, 2, 3], [['ld-a'], ['ld-b'], ['ld-c']])], opts(300));
  expect(seqsOf('ld-a')).toEqual([1, 2, 3]);
  expect(seqsOf('ld-c')).toEqual([1, 2, 3]);
  expect(seqsOf('ld-b')).toEqual([]);
  expect(r).toMatchObject({ delivered: 6, skipped: 3, gone: [] });
  mgmt.failNext.delete('ld-b');
});

test('a retried message gives each connection only its newest frame of it, so nothing older overtakes what it already had', async () => {
  const retried = message([4, 5, 6], [['ld-r']], 'lr');
  const fresh = message([7], [['ld-r']], 'lr');
  await deliverLanes(poster, [retried, fresh], opts(), [true, false]);
  expect(seqsOf('ld-r', 'lr')).toEqual([6, 7]);
});

test('a batch delivered again in the same container resumes after what it posted: no repeat, no older frame', async () => {
  mgmt.failNext.set('ld-s', { status: 429, times: 1000 });
  await deliverLanes(poster, [message([1, 2], [['ld-s'], ['ld-t']], 'ls')], opts(0));
  mgmt.failNext.delete('ld-s');
  expect(seqsOf('ld-t', 'ls')).toEqual([1, 2]);
  const again = await deliverLanes(poster, [message([1, 2], [['ld-s'], ['ld-t']], 'ls'), message([3], [['ld-s'], ['ld-t']], 'ls')], opts(), [true, false]);
  expect(seqsOf('ld-t', 'ls')).toEqual([1, 2, 3]);
  // ld-s had nothing posted: as a retried message, only its newest frame, then the new one.
  expect(seqsOf('ld-s', 'ls')).toEqual([2, 3]);
  expect(again.alreadyPosted).toBe(2);
});

test('410 from an established connection reports it gone; from one subscribed during $connect it is retried and never removed', async () => {
  mgmt.gone.add('ld-old');
  mgmt.gone.add('ld-new');
  const r = await deliverLanes(poster, [message([1], [['ld-old'], ['ld-new', 1]], 'lg')], opts(200));
  expect(r.gone).toEqual(['ld-old']);
  expect(r.skipped).toBe(1);
  mgmt.gone.delete('ld-new');
  const again = await deliverLanes(poster, [message([2], [['ld-new', 1]], 'lg')], opts(200));
  expect(again).toMatchObject({ delivered: 1, gone: [] });
});

test('an unexpected error (not 410/429/5xx/timeout) fails the batch so it is retried', async () => {
  mgmt.failNext.set('ld-x', { status: 403, times: 1 });
  await expect(deliverLanes(poster, [message([1], [['ld-x']], 'lx')], opts())).rejects.toThrow(/unexpectedly/);
});
