import { createFanoutHandler } from '../../functions/fanout';
import { ConnectionStore } from '../../shared/store/connections';
import { readStats } from '../../shared/store/stats';
import { publish } from '../../shared/fanout-engine';
import { Db } from '../../shared/store/db';
import type { Runtime } from '../../shared/runtime';
import { snsEvent } from '../helpers/events';
import { testRuntime, type TestRuntime } from '../helpers/runtime';

let t: TestRuntime;
let fanout: (e: unknown) => Promise<void>;
beforeAll(async () => {
  t = await testRuntime();
  fanout = createFanoutHandler(async () => t.rt);
});
afterAll(() => t.stop());

const identity = { sub: 'u', role: 'admin', exp: 4_000_000_000 };
const conns = () => new ConnectionStore(t.rt.db, 3600);
const msg = (m: Record<string, unknown>) => ({ message: JSON.stringify(m) });

describe('fanout handler', () => {
  test('one frame per connection carrying seqs for every matching channel; channel is the first in event order', async () => {
    await conns().create('f-both', identity, ['fa_1', 'fa_2']);
    await conns().create('f-second', identity, ['fa_2']);
    await conns().create('f-none', identity, ['fa_other']);
    await fanout(snsEvent([msg({ channels: ['fa_1', 'fa_2'], event: 'create', data: { booking_id: 9 }, id: 'evt-fa-1' })]));
    const both = t.mgmt.framesFor('f-both');
    expect(both).toHaveLength(1);
    expect(both[0]).toEqual({ type: 'event', id: 'evt-fa-1', event: 'create', data: { booking_id: 9 }, ts: t.clock.now(), channel: 'fa_1', seqs: { fa_1: 1, fa_2: 1 } });
    expect(t.mgmt.framesFor('f-second')).toEqual([expect.objectContaining({ channel: 'fa_2', seqs: { fa_2: 1 } })]);
    expect(t.mgmt.framesFor('f-none')).toEqual([]);
  });

  test('seq rises by exactly 1 per event, and a connection receives them in order', async () => {
    await conns().create('f-order', identity, ['ord']);
    for (let i = 0; i < 5; i++) await fanout(snsEvent([msg({ channels: ['ord'], event: 'u', data: { i } })]));
    expect(t.mgmt.framesFor('f-order').map((f) => (f.seqs as Record<string, number>).ord)).toEqual([1, 2, 3, 4, 5]);
  });

  test('the same id published twice is delivered once', async () => {
    await conns().create('f-dup', identity, ['dup']);
    const m = msg({ channels: ['dup'], event: 'create', id: 'same-key' });
    await fanout(snsEvent([m, m]));
    await fanout(snsEvent([m]));
    expect(t.mgmt.framesFor('f-dup')).toHaveLength(1);
    expect(t.telemetry.counters.DuplicateMessage).toBe(2);
  });

  test('without an id, the SNS MessageId is the idempotency key (an SNS redelivery is dropped)', async () => {
    await conns().create('f-mid', identity, ['mid']);
    const m = { message: JSON.stringify({ channels: ['mid'], event: 'x' }), messageId: 'sns-msg-77' };
    await fanout(snsEvent([m]));
    await fanout(snsEvent([m]));
    expect(t.mgmt.framesFor('f-mid')).toEqual([expect.objectContaining({ id: 'sns-msg-77' })]);
  });

  test('invalid messages are logged with the reason and counted, and never block the valid ones', async () => {
    await conns().create('f-mixed', identity, ['mixed']);
    const before = t.telemetry.counters.InvalidMessage ?? 0;
    await expect(
      fanout(snsEvent([{ message: 'not json' }, msg({ channels: ['mixed'], event: 'ok', id: 'mixed-ok' }), msg({ channels: ['bad name'], event: 'x' }), msg({ channels: ['mixed'] })])),
    ).resolves.toBeUndefined();
    expect(t.mgmt.framesFor('f-mixed')).toEqual([expect.objectContaining({ id: 'mixed-ok' })]);
    expect(t.telemetry.counters.InvalidMessage! - before).toBe(3);
    const reasons = t.telemetry.lines.filter((l) => l.message === 'rejected invalid message').map((l) => l.extra?.reason);
    expect(reasons).toEqual(expect.arrayContaining(['Message is not valid JSON', expect.stringMatching(/channels.0/), 'event is required']));
  });

  test('a connection that answers 410 Gone is deleted with all its subscriptions and leaves the stats', async () => {
    await conns().create('f-gone', identity, ['gone_a', 'gone_b']);
    await conns().create('f-alive', identity, ['gone_a']);
    const before = await readStats(t.rt.db);
    t.mgmt.gone.add('f-gone');
    await fanout(snsEvent([msg({ channels: ['gone_a'], event: 'x' })]));
    expect(await conns().get('f-gone')).toBeUndefined();
    expect(await conns().countSubscribers('gone_a')).toBe(1);
    expect(await conns().countSubscribers('gone_b')).toBe(0);
    const after = await readStats(t.rt.db);
    expect(before.connections - after.connections).toBe(1);
    expect(before.subscriptions - after.subscriptions).toBe(2);
    expect(t.mgmt.framesFor('f-alive')).toHaveLength(1);
    expect(t.telemetry.counters.GoneConnections).toBeGreaterThanOrEqual(1);
  });

  test('throttled (429) and 5xx posts are retried until delivered', async () => {
    await conns().create('f-429', identity, ['throttle']);
    await conns().create('f-500', identity, ['throttle']);
    t.mgmt.failNext.set('f-429', { status: 429, times: 2 });
    t.mgmt.failNext.set('f-500', { status: 500, times: 1 });
    const rt: Runtime = t.rt;
    const report = await publish({ db: rt.db, config: rt.config, poster: rt.poster(t.mgmt.endpoint), log: rt.log, deliveryOverrides: { sleep: async () => {} } }, {
      channels: ['throttle'],
      event: 'x',
      data: null,
      id: 'throttle-1',
    });
    if (report.duplicate) throw new Error('unexpected duplicate');
    expect(report.delivery).toMatchObject({ delivered: 2, retries: 3, posts: 5, failed: [], gone: [] });
    expect(t.mgmt.framesFor('f-429')).toHaveLength(1);
    expect(t.mgmt.framesFor('f-500')).toHaveLength(1);
  });

  test('a post that keeps failing is reported, not thrown, and the others are delivered', async () => {
    await conns().create('f-stuck', identity, ['stuck']);
    await conns().create('f-fine', identity, ['stuck']);
    t.mgmt.failNext.set('f-stuck', { status: 429, times: 100 });
    const report = await publish({ db: t.rt.db, config: t.rt.config, poster: t.rt.poster(t.mgmt.endpoint), log: t.rt.log, deliveryOverrides: { sleep: async () => {}, maxAttempts: 3 } }, {
      channels: ['stuck'],
      event: 'x',
      data: null,
      id: 'stuck-1',
    });
    if (report.duplicate) throw new Error('unexpected duplicate');
    expect(report.delivery.failed).toEqual([{ connectionId: 'f-stuck', reason: expect.stringMatching(/^throttled/) }]);
    expect(report.delivery.delivered).toBe(1);
    t.mgmt.failNext.delete('f-stuck');
  });

  test('a failing valid record does not lose the others; it throws so Lambda retries, and the retry delivers it once', async () => {
    await conns().create('f-fail', identity, ['ok_chan', 'broken_chan']);
    // DynamoDB Local cannot be made to fail one write on demand: wrap its client to fail one channel's bump, once.
    let failures = 1;
    const failingDoc = {
      send: (cmd: { input?: { Key?: { pk?: string } } }) => {
        if (cmd.input?.Key?.pk === 'V#broken_chan' && failures-- > 0) return Promise.reject(Object.assign(new Error('boom'), { name: 'InternalServerError' }));
        return (t.rt.db.doc.send as (c: unknown) => Promise<unknown>)(cmd);
      },
    };
    const rt: Runtime = { ...t.rt, db: new Db(failingDoc as unknown as Db['doc'], t.rt.db.tableName, t.clock) };
    const handler = createFanoutHandler(async () => rt);
    const event = snsEvent([msg({ channels: ['ok_chan'], event: 'a', id: 'rec-ok' }), msg({ channels: ['broken_chan'], event: 'b', id: 'rec-broken' })]);
    await expect(handler(event)).rejects.toThrow(/1 of 2 records failed/);
    expect(t.mgmt.framesFor('f-fail').map((f) => f.id)).toEqual(['rec-ok']);
    await expect(handler(event)).resolves.toBeUndefined(); // the Lambda retry
    expect(t.mgmt.framesFor('f-fail').map((f) => f.id)).toEqual(['rec-ok', 'rec-broken']);
  });

  test('a non-SNS event is logged and dropped without throwing', async () => {
    await expect(fanout({ hello: 'world' })).resolves.toBeUndefined();
    expect(t.telemetry.lines.some((l) => l.message.includes('not an SNS event'))).toBe(true);
  });
});

describe('operation counts', () => {
  test('one event to 3 channels with 15 subscribers: DynamoDB operations and posts', async () => {
    const channels = ['ops_specialist_2', 'ops_workpoint_5', 'ops_admin'];
    for (let i = 0; i < 15; i++) await conns().create(`ops-${i}`, identity, [channels[i % 3] as string]);
    // First event creates the channels; measure the second (steady state).
    await publish({ db: t.rt.db, config: t.rt.config, poster: t.rt.poster(t.mgmt.endpoint), log: t.rt.log }, { channels, event: 'create', data: { booking_id: 1 }, id: 'ops-warm' });
    const report = await publish({ db: t.rt.db, config: t.rt.config, poster: t.rt.poster(t.mgmt.endpoint), log: t.rt.log }, { channels, event: 'create', data: { booking_id: 9 }, id: 'ops-1' });
    if (report.duplicate) throw new Error('unexpected duplicate');
    // 1 idempotency put + 3 history puts; 3 seq bumps + 1 stats update; 3 subscriber query pages.
    expect(report.ops).toMatchObject({ putRequests: 4, updateRequests: 4, queryPages: 3, getRequests: 0, deleteRequests: 0, transactRequests: 0 });
    expect(report.delivery).toMatchObject({ delivered: 15, posts: 15 });
    expect(report.ops.writeUnits).toBeGreaterThanOrEqual(8);
    process.stdout.write(`ops for 1 event × 3 channels × 15 subscribers: ${JSON.stringify({ ...report.ops, posts: report.delivery.posts })}\n`);
  });
});
