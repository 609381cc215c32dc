import { CLOSE, type SwitchboardError } from '../../client/src';
import type { EventFrame } from '../../client/src/frames';
import { event, liveHarness, record } from './fake-socket';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('subscribe and deliver', () => {
  test('first subscribe has no since; `subscribed` sets the baseline; handlers get the event frame', async () => {
    const h = await liveHarness();
    const got: [EventFrame, string][] = [];
    h.client.subscribe('specialist_2', (e, ch) => got.push([e, ch]));
    expect(h.socket().sent).toEqual([{ action: 'subscribe', channel: 'specialist_2', id: 'specialist_2' }]);
    h.socket().receive({ type: 'subscribed', channel: 'specialist_2', seq: 17, id: 'specialist_2' });
    const e18 = event('evt-18', { specialist_2: 18, workpoint_5: 7 }, { booking_id: 9 });
    h.socket().receive(e18);
    expect(got).toEqual([[e18, 'specialist_2']]);
  });

  test('channels subscribed before the socket opens are subscribed on open', async () => {
    const h = await liveHarness();
    h.socket().drop();
    h.client.subscribe('a', () => undefined);
    h.client.subscribe('b', () => undefined);
    await h.tick(250);
    h.socket().open();
    expect(
      h
        .socket()
        .subscribes()
        .map((f) => f.channel),
    ).toEqual(['a', 'b']);
  });

  test('invalid channel names are refused before anything is sent', async () => {
    const h = await liveHarness();
    expect(() => h.client.subscribe('no spaces', () => undefined)).toThrow(/invalid channel name/);
    expect(h.socket().sent).toEqual([]);
  });

  test('unsubscribe: the returned function and unsubscribe(channel) both stop delivery; the last handler sends unsubscribe', async () => {
    const h = await liveHarness();
    const one = record(h.client, 'a');
    const two = record(h.client, 'a');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 0 });
    h.socket().receive(event('e1', { a: 1 }));
    one.off();
    expect(h.socket().sent.filter((f) => f.action === 'unsubscribe')).toEqual([]);
    h.socket().receive(event('e2', { a: 2 }));
    h.client.unsubscribe('a');
    expect(h.socket().sent.at(-1)).toEqual({ action: 'unsubscribe', channel: 'a', id: 'a' });
    h.socket().receive(event('e3', { a: 3 }));
    expect(one.ids).toEqual(['e1']);
    expect(two.ids).toEqual(['e1', 'e2']);
  });

  test('a live event that arrives before the first `subscribed` reply is not lost', async () => {
    const h = await liveHarness();
    const a = record(h.client, 'a');
    const order: string[] = [];
    h.client.on('subscribed', (ch, seq) => order.push(`subscribed ${ch} ${seq}`));
    h.client.on('event', (e) => order.push(e.id));
    h.socket().receive(event('e17', { a: 17 })); // published while the subscribe was being answered...
    h.socket().receive(event('e18', { a: 18 }));
    expect(a.ids).toEqual([]);
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 17 }); // ...e17 before the seq was read, e18 after
    expect(a.ids).toEqual(['e18']); // e17 is part of the state as of seq 17
    expect(order).toEqual(['subscribed a 17', 'e18']); // the app loads its state first, then gets what follows
    h.socket().receive(event('e18', { a: 18 }));
    h.socket().receive(event('e19', { a: 19 }));
    expect(a.ids).toEqual(['e18', 'e19']);
  });

  test('error frames reach on("error") with their code, naming the channel of a refused subscribe', async () => {
    const h = await liveHarness();
    const errors: SwitchboardError[] = [];
    h.client.on('error', (e) => errors.push(e));
    h.client.subscribe('admin', () => undefined);
    h.socket().receive({
      type: 'error',
      code: 'forbidden',
      message: 'not allowed to subscribe to "admin"',
      id: 'admin',
    });
    h.socket().receive({ type: 'error', code: 'limit', message: 'at most 100 subscriptions per connection', id: 'x' });
    h.socket().receive({ type: 'error', code: 'something_new', message: '?' });
    expect(errors).toEqual([
      { code: 'forbidden', message: 'not allowed to subscribe to "admin"', channel: 'admin' },
      { code: 'limit', message: 'at most 100 subscriptions per connection', channel: 'x' },
      { code: 'internal', message: '?' },
    ]);
    expect(h.client.state).toBe('live'); // the connection stays usable
  });

  test('a refused subscribe is dropped (not retried on reconnect); an internal error is retried', async () => {
    const h = await liveHarness();
    h.client.subscribe('admin', () => undefined);
    h.client.subscribe('flaky', () => undefined);
    h.client.subscribe('a', () => undefined);
    h.socket().receive({ type: 'error', code: 'forbidden', message: 'not allowed', id: 'admin' });
    h.socket().receive({ type: 'error', code: 'internal', message: 'try again', id: 'flaky' });
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 3, id: 'a' });
    h.socket().drop();
    await h.tick(250);
    h.socket().open();
    expect(
      h
        .socket()
        .subscribes()
        .map((f) => f.channel),
    ).toEqual(['flaky', 'a']);
  });

  test('forbidden for a channel allowed before (expired token): reconnect once with a fresh token, then drop', async () => {
    let n = 0;
    const h = await liveHarness({ getToken: async () => `t${++n}` });
    const a = record(h.client, 'a');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 3, id: 'a' });
    h.socket().receive({
      type: 'error',
      code: 'forbidden',
      message: 'token expired; reconnect with a fresh token',
      id: 'a',
    });
    expect(h.sockets[0]?.closedWith?.code).toBe(CLOSE.TOKEN_REFUSED);
    await h.tick(250);
    expect(h.socket().url).toMatch(/token=t2$/);
    h.socket().open();
    expect(h.socket().subscribes()).toEqual([{ action: 'subscribe', channel: 'a', since: 3, id: 'a' }]);
    h.socket().receive({ type: 'error', code: 'forbidden', message: 'not allowed', id: 'a' }); // still refused: give up
    h.socket().receive(event('e4', { a: 4 }));
    expect(a.ids).toEqual([]);
    expect(h.socket().closedWith).toBeUndefined();
    expect(h.client.state).toBe('live');
  });

  test('a throwing handler does not stop other handlers or the client', async () => {
    const h = await liveHarness();
    h.client.subscribe('a', () => {
      throw new Error('app bug');
    });
    const a = record(h.client, 'a');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 0 });
    h.socket().receive(event('e1', { a: 1 }));
    h.socket().receive(event('e2', { a: 2 }));
    expect(a.ids).toEqual(['e1', 'e2']);
    expect(() => jest.runOnlyPendingTimers()).toThrow('app bug'); // reported asynchronously, like browser listeners
  });
});

describe('dedupe', () => {
  test('by seq: an event at or below the channel position is dropped', async () => {
    const h = await liveHarness();
    const a = record(h.client, 'a');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 3 });
    h.socket().receive(event('old', { a: 3 }));
    h.socket().receive(event('e4', { a: 4 }));
    h.socket().receive(event('e4-again', { a: 4 }));
    expect(a.ids).toEqual(['e4']);
  });

  test('by id: an event replayed on two channels reaches on("event") once and each channel handler once', async () => {
    const h = await liveHarness();
    const all: string[] = [];
    h.client.on('event', (e) => all.push(e.id));
    const a = record(h.client, 'a');
    const b = record(h.client, 'b');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 4 });
    h.socket().receive({ type: 'subscribed', channel: 'b', seq: 6 });
    // A live event on both channels: once globally, once per channel handler.
    h.socket().receive(event('x', { a: 5, b: 7 }));
    expect(all).toEqual(['x']);
    expect(a.ids).toEqual(['x']);
    expect(b.ids).toEqual(['x']);
    // The same event replayed on each channel after a resubscribe: nothing new.
    h.socket().drop();
    await h.tick(250);
    h.socket().open();
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 5 });
    h.socket().receive({ type: 'subscribed', channel: 'b', seq: 7 });
    h.socket().receive(event('x', { a: 5 }));
    h.socket().receive(event('x', { b: 7 }));
    expect(all).toEqual(['x']);
    expect([a.ids, b.ids]).toEqual([['x'], ['x']]);
  });

  test('by id: one handler subscribed to two channels gets an event on both once', async () => {
    const h = await liveHarness();
    const got: string[] = [];
    const handler = (e: EventFrame, ch: string) => got.push(`${e.id}@${ch}`);
    h.client.subscribe('a', handler);
    h.client.subscribe('b', handler);
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 0 });
    h.socket().receive({ type: 'subscribed', channel: 'b', seq: 0 });
    h.socket().receive(event('x', { a: 1, b: 1 }));
    h.socket().receive(event('y', { a: 2 })); // replayed on a, then on b
    h.socket().receive(event('y', { b: 2 }));
    expect(got).toEqual(['x@a', 'y@a']);
  });

  test('by id: an event first seen on one channel still reaches the other channel when its seq comes up', async () => {
    const h = await liveHarness();
    const all: string[] = [];
    h.client.on('event', (e) => all.push(e.id));
    const a = record(h.client, 'a');
    const b = record(h.client, 'b');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 0 });
    h.socket().receive({ type: 'subscribed', channel: 'b', seq: 0 });
    h.socket().receive(event('y', { a: 1 })); // replayed on a
    h.socket().receive(event('y', { b: 1 })); // replayed on b, same id
    expect(all).toEqual(['y']);
    expect([a.ids, b.ids]).toEqual([['y'], ['y']]);
  });

  test('the id memory is bounded (dedupeSize): old ids are forgotten, seq dedupe still holds', async () => {
    const h = await liveHarness({ dedupeSize: 4 });
    const all: string[] = [];
    h.client.on('event', (e) => all.push(e.id));
    record(h.client, 'a');
    record(h.client, 'b');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 0 });
    h.socket().receive({ type: 'subscribed', channel: 'b', seq: 0 });
    h.socket().receive(event('first', { a: 1 }));
    for (let seq = 2; seq <= 5; seq++) h.socket().receive(event(`e${seq}`, { a: seq }));
    h.socket().receive(event('first', { b: 1 })); // its id was evicted: treated as new
    expect(all.filter((id) => id === 'first')).toHaveLength(2);
  });
});

describe('resubscribe after reconnect', () => {
  test('every channel is resubscribed with since = last seq seen; a never-answered one without since', async () => {
    const h = await liveHarness();
    const a = record(h.client, 'a');
    record(h.client, 'b');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 10 });
    h.socket().receive(event('e11', { a: 11 }));
    h.socket().receive(event('e12', { a: 12 }));
    h.socket().drop(1001);
    await h.tick(250);
    h.socket().open();
    expect(h.socket().subscribes()).toEqual([
      { action: 'subscribe', channel: 'a', since: 12, id: 'a' },
      { action: 'subscribe', channel: 'b', id: 'b' },
    ]);
    // The server replies `subscribed` with the current seq, then replays 13..14.
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 14 });
    h.socket().receive(event('e13', { a: 13 }));
    h.socket().receive(event('e14', { a: 14 }));
    expect(a.ids).toEqual(['e11', 'e12', 'e13', 'e14']);
  });

  test('a live event before `subscribed` and the replay after it: nothing missed, nothing twice, in order', async () => {
    const h = await liveHarness();
    const a = record(h.client, 'a');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 2 });
    h.socket().drop();
    await h.tick(250);
    h.socket().open();
    h.socket().receive(event('e5', { a: 5 })); // live, published meanwhile
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 5 });
    h.socket().receive(event('e3', { a: 3 })); // replay
    h.socket().receive(event('e4', { a: 4 }));
    h.socket().receive(event('e5', { a: 5 })); // replayed as well
    h.socket().receive(event('e6', { a: 6 }));
    expect(a.ids).toEqual(['e3', 'e4', 'e5', 'e6']);
  });

  test('`reset` (history no longer covers the gap) is announced, the seq adopted, and later events flow', async () => {
    const h = await liveHarness();
    const resets: [string, number][] = [];
    h.client.on('reset', (ch, seq) => resets.push([ch, seq]));
    const a = record(h.client, 'a');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 2 });
    h.socket().drop();
    await h.tick(250);
    h.socket().open();
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 300 });
    h.socket().receive({ type: 'reset', channel: 'a', seq: 300 });
    expect(resets).toEqual([['a', 300]]);
    h.socket().receive(event('e300', { a: 300 }));
    h.socket().receive(event('e301', { a: 301 }));
    expect(a.ids).toEqual(['e301']);
    await h.tick(10_000);
    expect(h.socket().subscribes()).toHaveLength(1); // no gap recovery after a reset
  });
});

describe('gap detection', () => {
  test('an event after a gap is held; when the missing ones arrive in time all are released in seq order', async () => {
    const h = await liveHarness();
    const a = record(h.client, 'a');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 1 });
    h.socket().receive(event('e4', { a: 4 }));
    h.socket().receive(event('e3', { a: 3 }));
    expect(a.ids).toEqual([]);
    await h.tick(900);
    h.socket().receive(event('e2', { a: 2 }));
    expect(a.ids).toEqual(['e2', 'e3', 'e4']);
    await h.tick(5_000);
    expect(h.socket().subscribes()).toHaveLength(1); // no recovery was needed
  });

  test('missing events that do not come within gapHoldMs are recovered by subscribe with since', async () => {
    const h = await liveHarness({ gapHoldMs: 1000 });
    const a = record(h.client, 'a');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 1 });
    h.socket().receive(event('e2', { a: 2 }));
    h.socket().receive(event('e5', { a: 5 }));
    await h.tick(999);
    expect(h.socket().subscribes()).toHaveLength(1);
    await h.tick(1);
    expect(h.socket().subscribes().at(-1)).toEqual({ action: 'subscribe', channel: 'a', since: 2, id: 'a' });
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 5 });
    for (const seq of [3, 4, 5]) h.socket().receive(event(`e${seq}`, { a: seq }));
    expect(a.ids).toEqual(['e2', 'e3', 'e4', 'e5']);
    await h.tick(10_000);
    expect(h.socket().subscribes()).toHaveLength(2);
  });

  test('a gap announced by `subscribed` (replay cut short) is recovered too', async () => {
    const h = await liveHarness();
    const a = record(h.client, 'a');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 1 });
    h.socket().drop();
    await h.tick(250);
    h.socket().open();
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 3 });
    h.socket().receive(event('e2', { a: 2 })); // e3 was not yet in history
    await h.tick(1000);
    expect(h.socket().subscribes().at(-1)).toEqual({ action: 'subscribe', channel: 'a', since: 2, id: 'a' });
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 3 });
    h.socket().receive(event('e3', { a: 3 }));
    expect(a.ids).toEqual(['e2', 'e3']);
  });

  test('if recovery never fills the gap, the app hears reset and the held events are released in order', async () => {
    const h = await liveHarness();
    const resets: [string, number][] = [];
    h.client.on('reset', (ch, seq) => resets.push([ch, seq]));
    const a = record(h.client, 'a');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 1 });
    h.socket().receive(event('e5', { a: 5 }));
    h.socket().receive(event('e4', { a: 4 }));
    await h.tick(3000); // hold, recover, recover, give up
    expect(h.socket().subscribes()).toHaveLength(3);
    expect(resets).toEqual([['a', 3]]);
    expect(a.ids).toEqual(['e4', 'e5']);
    h.socket().receive(event('e3', { a: 3 })); // too late: already given up on
    h.socket().receive(event('e6', { a: 6 }));
    expect(a.ids).toEqual(['e4', 'e5', 'e6']);
  });

  test('a multi-channel event waits only on the channel with the gap', async () => {
    const h = await liveHarness();
    const a = record(h.client, 'a');
    const b = record(h.client, 'b');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 0 });
    h.socket().receive({ type: 'subscribed', channel: 'b', seq: 0 });
    h.socket().receive(event('x', { a: 1, b: 2 }));
    expect([a.ids, b.ids]).toEqual([['x'], []]);
    h.socket().receive(event('y', { b: 1 }));
    expect(b.ids).toEqual(['y', 'x']);
  });
});

describe('pong seqs (protocol v1.1)', () => {
  test('a channel whose server seq is ahead of the last one seen is recovered like a gap: held, then subscribe with since', async () => {
    const h = await liveHarness({ pingIntervalMs: 60_000, gapHoldMs: 1000 });
    const a = record(h.client, 'a');
    const b = record(h.client, 'b');
    h.socket().autoPong = false;
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 4, id: 'a' });
    h.socket().receive({ type: 'subscribed', channel: 'b', seq: 9, id: 'b' });
    h.socket().receive(event('e5', { a: 5 }));
    await h.tick(60_000);
    expect(h.socket().sent.at(-1)).toEqual({ action: 'ping' });
    // The last event of `a` (seq 6) was lost; `b` is up to date; `c` is not ours.
    h.socket().receive({ type: 'pong', ts: Date.now(), seqs: { a: 6, b: 9, c: 3 } });
    await h.tick(999);
    expect(h.socket().subscribes()).toHaveLength(2);
    await h.tick(1);
    expect(h.socket().subscribes().slice(2)).toEqual([{ action: 'subscribe', channel: 'a', since: 5, id: 'a' }]);
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 6, id: 'a' });
    h.socket().receive(event('e6', { a: 6 }));
    expect(a.ids).toEqual(['e5', 'e6']);
    expect(b.ids).toEqual([]);
    await h.tick(10_000);
    expect(h.socket().subscribes()).toHaveLength(3);
  });

  test('an event still on its way when the pong came: it arrives within gapHoldMs and nothing is resubscribed', async () => {
    const h = await liveHarness({ pingIntervalMs: 60_000 });
    const a = record(h.client, 'a');
    h.socket().autoPong = false;
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 4, id: 'a' });
    await h.tick(60_000);
    h.socket().receive({ type: 'pong', ts: Date.now(), seqs: { a: 5 } });
    await h.tick(500);
    h.socket().receive(event('e5', { a: 5 }));
    await h.tick(10_000);
    expect(a.ids).toEqual(['e5']);
    expect(h.socket().subscribes()).toHaveLength(1);
  });

  test('a pong without seqs (an older server) or with seqs at or behind the client changes nothing', async () => {
    const h = await liveHarness({ pingIntervalMs: 60_000 });
    record(h.client, 'a');
    h.socket().autoPong = false;
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 4, id: 'a' });
    await h.tick(60_000);
    h.socket().receive({ type: 'pong', ts: Date.now() });
    h.socket().receive({ type: 'pong', ts: Date.now(), seqs: { a: 3 } });
    h.socket().receive({ type: 'pong', ts: Date.now(), seqs: { a: 'x' } }); // malformed: ignored
    await h.tick(10_000);
    expect(h.socket().subscribes()).toHaveLength(1);
    expect(h.client.state).toBe('live');
  });
});
