import { deliverLanes, MAX_ACCOUNT_RETRIES, resetSlowConnections } from '../../shared/lane-delivery';
import { frameHead, type ResolvedLaneMessage } from '../../shared/lanes';
import { ManagementApiPoster, managementClient } from '../../shared/management-api';
import { LeanPoster } from '../../shared/lean-poster';
import { PostRateLimiter } from '../../shared/post-rate';
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

const message = (seqs: number[], targets: [string, 1?][], channel = 'ld'): ResolvedLaneMessage => ({
  v: 1,
  events: seqs.map((seq) => ({
    head: frameHead({ id: `${channel}-${seq}`, event: 'e', data: seq }, 1),
    targets: targets.map(([c, fresh]) => (fresh ? [c, { [channel]: seq }, 1] : [c, { [channel]: seq }])),
  })),
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
  const again = await deliverLanes(
    poster,
    [message([1, 2], [['ld-s'], ['ld-t']], 'ls'), message([3], [['ld-s'], ['ld-t']], 'ls')],
    opts(),
    [true, false],
  );
  expect(seqsOf('ld-t', 'ls')).toEqual([1, 2, 3]);
  // ld-s had nothing posted: as a retried message, only its newest frame, then the new one.
  expect(seqsOf('ld-s', 'ls')).toEqual([2, 3]);
  expect(again.alreadyPosted).toBe(2);
});

test('a post left in flight by an invocation that ended settles before the retried batch posts to that connection: nothing older lands after something newer', async () => {
  // Invocation A posts seq 1 to ld-z; the post is held on the way (received, not yet delivered) and
  // A ends: its later calls fail, as in a sandbox that crashed or timed out.
  const held = mgmt.hold('ld-z');
  let ended = false;
  const invocationA: typeof poster = {
    post: (c, f) => (ended ? Promise.reject(new Error('invocation ended')) : poster.post(c, f)),
  } as typeof poster;
  const batch = () => [message([1, 2, 3], [['ld-z']], 'lz')];
  const a = deliverLanes(invocationA, batch(), opts()).catch((err: unknown) => err);
  await held.received;
  ended = true;
  // The retried batch, plus a newer message. Without the lock it would decide at once that ld-z had
  // nothing from this container and post only seq 3 and 4, and A's seq 1 would land after them.
  const b = deliverLanes(poster, [...batch(), message([4], [['ld-z']], 'lz')], opts(), [true, false]);
  held.release();
  const [reportB, errA] = await Promise.all([b, a]);
  expect(errA).toBeInstanceOf(Error);
  expect(seqsOf('ld-z', 'lz')).toEqual([1, 2, 3, 4]);
  expect(reportB).toMatchObject({ delivered: 3, alreadyPosted: 1, superseded: 0 });
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

test('an unexpected error stops every connection of the batch, and fails it only once no post is left in flight', async () => {
  // ld-y's first post is on its way when ld-w's answers 403: the batch must not go back to the queue
  // (to be delivered again, maybe by another container) while this invocation still posts.
  mgmt.failNext.set('ld-w', { status: 403, times: 1 });
  const w = mgmt.hold('ld-w');
  const y = mgmt.hold('ld-y');
  let failedSeen!: () => void;
  const wFailed = new Promise<void>((r) => (failedSeen = r));
  const watching = {
    post: (c: string, f: string) =>
      poster.post(c, f).catch((err: unknown) => {
        if (c === 'ld-w') failedSeen();
        throw err;
      }),
  } as typeof poster;
  let settled = false;
  const outcome = deliverLanes(watching, [message([1, 2, 3], [['ld-w'], ['ld-y']], 'lw')], opts()).then(
    () => 'resolved',
    (err: Error) => err.message,
  );
  void outcome.then(() => (settled = true));
  await Promise.all([w.received, y.received]);
  w.release();
  await wFailed;
  await new Promise((r) => setImmediate(r)); // every pending promise callback has run
  expect(settled).toBe(false);
  y.release();
  expect(await outcome).toMatch(/ld-w failed unexpectedly/);
  expect(seqsOf('ld-y', 'lw')).toEqual([1]);
});

describe('the account post throttle (429 to many connections at once)', () => {
  const connections = Array.from({ length: 50 }, (_, i) => `la-${i}`);
  // The lean poster, 16 in flight: it offers far more posts/s than the bucket lets through, even on a busy machine.
  let lean: LeanPoster;
  beforeAll(() => {
    lean = new LeanPoster({
      endpoint: mgmt.endpoint,
      region: 'us-east-1',
      credentials: async () => ({ accessKeyId: 'test', secretAccessKey: 'test' }),
      maxSockets: 16,
      timeoutMs: 1000,
    });
  });
  afterAll(() => lean.destroy());
  const seqsOn = (c: string, channel: string) => seqsOf(c, channel).filter((s) => s !== undefined);
  beforeEach(() => {
    // Scaled down from AWS's 10,000/s, burst 5,000.
    mgmt.accountThrottle = { rate: 60, burst: 5 };
    mgmt.accountRefused = 0;
    mgmt.fillBucket();
  });
  afterEach(() => {
    mgmt.accountThrottle = undefined;
  });

  test('slows delivery down and loses nothing, although each connection has only 50 ms of retry budget', async () => {
    const limiter = new PostRateLimiter();
    const r = await deliverLanes(
      lean,
      [
        message(
          [1, 2, 3],
          connections.map((c) => [c]),
          'la',
        ),
      ],
      { ...opts(50), concurrency: 16, limiter },
    );
    for (const c of connections) expect({ c, seqs: seqsOn(c, 'la') }).toEqual({ c, seqs: [1, 2, 3] });
    expect(mgmt.accountRefused).toBeGreaterThan(0);
    expect(r).toMatchObject({ delivered: 150, skipped: 0, unfinished: 0 });
    expect(r.throttled).toBeGreaterThan(0);
    expect(limiter.decreases).toBeGreaterThan(0);
  });

  test('a connection refused alone meanwhile (its buffer full) is still skipped after its budget: it does not hold the lane', async () => {
    mgmt.failNext.set('la-stuck', { status: 429, times: 1_000_000 });
    const limiter = new PostRateLimiter();
    const r = await deliverLanes(
      lean,
      [
        message(
          [1, 2, 3],
          [...connections, 'la-stuck'].map((c) => [c]),
          'lb',
        ),
      ],
      { ...opts(50), concurrency: 16, limiter },
    );
    for (const c of connections) expect({ c, seqs: seqsOn(c, 'lb') }).toEqual({ c, seqs: [1, 2, 3] });
    expect(seqsOf('la-stuck', 'lb')).toEqual([]);
    expect(mgmt.accountRefused).toBeGreaterThan(0);
    expect(r).toMatchObject({ delivered: 150, skipped: 3, unfinished: 0 });
    // Bounded: per frame at most MAX_ACCOUNT_RETRIES retries on the account's behalf, then its own budget.
    const stuckAttempts = 1_000_000 - (mgmt.failNext.get('la-stuck')?.times ?? 0);
    expect(stuckAttempts).toBeLessThanOrEqual(3 * (MAX_ACCOUNT_RETRIES + 10));
    mgmt.failNext.delete('la-stuck');
  });
});
