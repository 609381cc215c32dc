import type { FetchLike, SwitchboardError } from '../../client/src';
import type { EventFrame } from '../../client/src/frames';
import { event, harness, record, type Harness } from './fake-socket';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

/** A fake HTTP API: answers from `versions` and `history`, records every request. */
function fakeApi() {
  const versions: Record<string, number> = {};
  const history: Record<string, EventFrame[]> = {};
  const retainFrom: Record<string, number> = {};
  const requests: { url: string; auth: string | undefined }[] = [];
  let failWith: { status: number; body: unknown } | undefined;
  const json = (status: number, body: unknown) => ({ ok: status < 400, status, json: async () => body });
  const fetch: FetchLike = async (url, init) => {
    requests.push({ url, auth: init.headers.authorization });
    if (failWith) return json(failWith.status, failWith.body);
    const u = new URL(url);
    if (u.pathname === '/version') {
      const names = (u.searchParams.get('channels') ?? '').split(',');
      return json(200, { versions: Object.fromEntries(names.map((c) => [c, versions[c] ?? 0])) });
    }
    const channel = u.searchParams.get('channel') ?? '';
    const since = Number(u.searchParams.get('since') ?? 0);
    const seq = versions[channel] ?? 0;
    if (since + 1 < (retainFrom[channel] ?? 1) && since < seq)
      return json(200, { channel, seq, events: [], reset: true });
    return json(200, {
      channel,
      seq,
      events: (history[channel] ?? []).filter((e) => (e.seqs[channel] ?? 0) > since),
      reset: false,
    });
  };
  const publish = (channel: string, id: string) => {
    const seq = (versions[channel] ?? 0) + 1;
    versions[channel] = seq;
    (history[channel] ??= []).push(event(id, { [channel]: seq }));
  };
  return {
    fetch,
    requests,
    versions,
    retainFrom,
    publish,
    fail: (status: number, body: unknown) => (failWith = { status, body }),
    heal: () => (failWith = undefined),
  };
}

/** Lets `n` WebSocket attempts in a row fail to open (each closes before opening); the first poll then runs. */
async function failOpens(h: Harness, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    h.socket().drop();
    await h.tick(i < n - 1 ? 30_000 : 0); // the next attempt starts within the backoff cap
  }
}

const paths = (requests: { url: string }[]) => requests.map((r) => r.url.replace('https://api.example.test', ''));

describe('polling fallback', () => {
  test('after 3 failed opens in a row: state polling, GET /version with the Bearer token', async () => {
    const api = fakeApi();
    const h = await harness({ fetch: api.fetch, reconnectCapMs: 1000 });
    record(h.client, 'specialist_2');
    record(h.client, 'workpoint_5');
    h.socket().drop();
    await h.tick(250);
    h.socket().drop();
    await h.tick(500);
    expect(h.client.state).toBe('connecting');
    expect(api.requests).toEqual([]);
    h.socket().drop();
    expect(h.client.state).toBe('polling');
    await h.tick();
    expect(api.requests).toEqual([
      { url: 'https://api.example.test/version?channels=specialist_2,workpoint_5', auth: 'Bearer tok' },
    ]);
    expect(h.states).toEqual(['polling']);
  });

  test('polls every 7 s; fetches /events since the last seq for channels whose version grew, in order, once', async () => {
    const api = fakeApi();
    const h = await harness({ fetch: api.fetch, reconnectCapMs: 60_000, connectTimeoutMs: 600_000 });
    const a = record(h.client, 'a');
    const b = record(h.client, 'b');
    api.publish('a', 'old'); // before the client's baseline
    await failOpens(h, 3);
    expect(h.client.state).toBe('polling');
    api.requests.length = 0;
    api.publish('a', 'a2');
    api.publish('a', 'a3');
    await h.tick(7000);
    expect(paths(api.requests)).toEqual(['/version?channels=a,b', '/events?channel=a&since=1']);
    expect(a.ids).toEqual(['a2', 'a3']);
    expect(b.ids).toEqual([]);
    api.requests.length = 0;
    await h.tick(7000);
    expect(paths(api.requests)).toEqual(['/version?channels=a,b']); // nothing grew: no fetch
    expect(a.ids).toEqual(['a2', 'a3']);
  });

  test('reset:true from /events: the app hears reset and the client adopts the seq', async () => {
    const api = fakeApi();
    const h = await harness({ fetch: api.fetch, connectTimeoutMs: 600_000 });
    const resets: [string, number][] = [];
    h.client.on('reset', (ch, seq) => resets.push([ch, seq]));
    const a = record(h.client, 'a');
    await failOpens(h, 3);
    for (let i = 1; i <= 150; i++) api.publish('a', `e${i}`);
    api.retainFrom.a = 51;
    await h.tick(7000);
    expect(resets).toEqual([['a', 150]]);
    expect(a.ids).toEqual([]);
    api.publish('a', 'e151');
    await h.tick(7000);
    expect(a.ids).toEqual(['e151']);
  });

  test('HTTP errors reach on("error") with the contract code and status; polling goes on', async () => {
    const api = fakeApi();
    const h = await harness({ fetch: api.fetch, connectTimeoutMs: 600_000 });
    const errors: SwitchboardError[] = [];
    h.client.on('error', (e) => errors.push(e));
    const a = record(h.client, 'a');
    api.fail(403, { error: { code: 'forbidden', message: 'not allowed to read "a"' } });
    await failOpens(h, 3);
    expect(errors).toEqual([{ code: 'forbidden', message: 'not allowed to read "a"', status: 403 }]);
    api.fail(429, { message: 'Too Many Requests' });
    await h.tick(7000);
    expect(errors[1]).toEqual({ code: 'rate_limited', message: 'HTTP 429', status: 429 });
    api.heal();
    await h.tick(7000);
    api.publish('a', 'e1');
    await h.tick(7000);
    expect(a.ids).toEqual(['e1']);
  });

  test('keeps trying the WebSocket with backoff while polling, and goes back to live when it opens', async () => {
    const api = fakeApi();
    const h = await harness({
      fetch: api.fetch,
      reconnectBaseMs: 1000,
      reconnectCapMs: 8000,
      connectTimeoutMs: 600_000,
    });
    const a = record(h.client, 'a');
    h.socket().drop(); // attempt 0: 500 ms
    await h.tick(500);
    h.socket().drop(); // attempt 1: 1000 ms
    await h.tick(1000);
    h.socket().drop(); // attempt 2: 2000 ms, and polling starts
    expect(h.client.state).toBe('polling');
    await h.tick(1999);
    expect(h.sockets.length).toBe(3);
    await h.tick(1);
    expect(h.sockets.length).toBe(4); // background attempt
    h.socket().drop(); // attempt 3: 4000 ms
    await h.tick(4000);
    expect(h.sockets.length).toBe(5);
    expect(h.client.state).toBe('polling');

    api.publish('a', 'e1'); // seen by polling (baseline was 0)
    await h.tick(7000);
    expect(a.ids).toEqual(['e1']);
    h.socket().drop(); // attempt 4: capped at 8000, so 4000
    await h.tick(3999);
    expect(h.sockets.length).toBe(5);
    await h.tick(1);
    h.socket().open();
    expect(h.client.state).toBe('live');
    expect(h.socket().subscribes()).toEqual([{ action: 'subscribe', channel: 'a', since: 1, id: 'a' }]);
    api.requests.length = 0;
    await h.tick(30_000);
    expect(api.requests).toEqual([]); // polling stopped
    expect(h.states).toEqual(['polling', 'live']);
  });

  test('a connection that opened and then dropped does not count toward polling', async () => {
    const api = fakeApi();
    const h = await harness({ fetch: api.fetch });
    record(h.client, 'a');
    for (let i = 0; i < 5; i++) {
      h.socket().open();
      h.socket().drop(1001);
      await h.tick(250);
    }
    expect(h.client.state).toBe('reconnecting');
    expect(api.requests).toEqual([]);
  });
});
