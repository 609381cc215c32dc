import { CLOSE, type NetworkMonitor } from '../../client/src';
import { event, harness, liveHarness, record } from './fake-socket';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('connecting', () => {
  test('asks getToken on every connect and puts it (encoded) in ?token=', async () => {
    let n = 0;
    const h = await harness({ getToken: async () => `t/${++n}=`, url: 'wss://ws.example.test/prod' });
    expect(h.socket().url).toBe('wss://ws.example.test/prod?token=t%2F1%3D');
    h.socket().open();
    h.socket().drop();
    await h.tick(250); // backoff attempt 0 with random 0.5: 0.5 * 500
    expect(h.sockets.length).toBe(2);
    expect(h.socket().url).toBe('wss://ws.example.test/prod?token=t%2F2%3D');
  });

  test('appends the token with & when the URL already has a query', async () => {
    const h = await harness({ url: 'ws://127.0.0.1:3001/?channels=a' });
    expect(h.socket().url).toBe('ws://127.0.0.1:3001/?channels=a&token=tok');
  });

  test('states: connecting → live → reconnecting → live, each transition announced once', async () => {
    const h = await harness();
    expect(h.client.state).toBe('connecting');
    h.socket().open();
    expect(h.client.state).toBe('live');
    h.socket().drop(1001);
    expect(h.client.state).toBe('reconnecting');
    await h.tick(250);
    h.socket().open();
    expect(h.states).toEqual(['live', 'reconnecting', 'live']);
    const previous: string[] = [];
    h.client.on('state', (_s, prev) => previous.push(prev));
    h.client.close();
    expect(previous).toEqual(['live']);
  });

  test('reconnect delays come from the backoff: they grow per failed attempt and reset once live', async () => {
    const h = await harness({ reconnectBaseMs: 1000, reconnectCapMs: 60_000, failuresBeforePolling: 99 });
    h.socket().open();
    h.socket().drop();
    await h.tick(499);
    expect(h.sockets.length).toBe(1); // attempt 0: 0.5 * 1000 = 500
    await h.tick(1);
    expect(h.sockets.length).toBe(2);
    h.socket().drop(); // fails to open
    await h.tick(999);
    expect(h.sockets.length).toBe(2); // attempt 1: 0.5 * 2000 = 1000
    await h.tick(1);
    expect(h.sockets.length).toBe(3);
    h.socket().open();
    h.socket().drop();
    await h.tick(500); // back to attempt 0
    expect(h.sockets.length).toBe(4);
  });

  test('a handshake that hangs is abandoned after connectTimeoutMs and counts as a failure', async () => {
    const h = await harness({ connectTimeoutMs: 2000 });
    await h.tick(2000);
    expect(h.sockets[0]?.closedWith?.code).toBe(CLOSE.CONNECT_TIMEOUT);
    await h.tick(250);
    expect(h.sockets.length).toBe(2);
    expect(h.client.state).toBe('connecting'); // never live yet
  });

  test('a getToken failure counts as a failed attempt and is retried', async () => {
    let calls = 0;
    const h = await harness({
      getToken: async () => {
        if (++calls === 1) throw new Error('auth down');
        return 'tok';
      },
    });
    expect(h.sockets.length).toBe(0);
    await h.tick(250);
    expect(h.sockets.length).toBe(1);
    h.socket().open();
    expect(h.client.state).toBe('live');
  });

  test('close(): offline, socket closed with 1000, no reconnect; connect() starts again', async () => {
    const h = await liveHarness();
    h.client.close();
    expect(h.client.state).toBe('offline');
    expect(h.sockets[0]?.closedWith?.code).toBe(CLOSE.NORMAL);
    await h.tick(60_000);
    expect(h.sockets.length).toBe(1);
    h.client.connect();
    expect(h.client.state).toBe('reconnecting');
    await h.tick();
    expect(h.sockets.length).toBe(2);
  });

  test('close() while the token is still being fetched opens no socket', async () => {
    let release: (t: string) => void = () => undefined;
    const h = await harness({ getToken: () => new Promise<string>((r) => (release = r)) });
    h.client.close();
    release('tok');
    await h.tick(60_000);
    expect(h.sockets.length).toBe(0);
    expect(h.client.state).toBe('offline');
  });

  test('the network going offline closes the socket (offline); coming back reconnects at once', async () => {
    let notify: (online: boolean) => void = () => undefined;
    const network: NetworkMonitor = { online: () => true, watch: (l) => ((notify = l), () => undefined) };
    const h = await liveHarness({ network });
    notify(false);
    expect(h.client.state).toBe('offline');
    expect(h.sockets[0]?.closedWith).toBeDefined();
    await h.tick(60_000);
    expect(h.sockets.length).toBe(1);
    notify(true);
    expect(h.client.state).toBe('reconnecting');
    await h.tick();
    h.socket().open();
    expect(h.states).toEqual(['live', 'offline', 'reconnecting', 'live']);
  });

  test('starting while the network is offline waits in offline', async () => {
    const network: NetworkMonitor = { online: () => false, watch: () => () => undefined };
    const h = await harness({ network });
    expect(h.client.state).toBe('offline');
    expect(h.sockets.length).toBe(0);
  });
});

describe('heartbeat', () => {
  test('sends {"action":"ping"} every pingIntervalMs (default 5 minutes) while pongs come back', async () => {
    const h = await liveHarness();
    h.socket().autoPong = false;
    await h.tick(5 * 60_000 - 1);
    expect(h.socket().sent).toEqual([]);
    await h.tick(1);
    expect(h.socket().sent).toEqual([{ action: 'ping' }]);
    h.socket().receive({ type: 'pong', ts: Date.now() });
    await h.tick(5 * 60_000);
    expect(h.socket().sent).toEqual([{ action: 'ping' }, { action: 'ping' }]);
    h.socket().receive({ type: 'pong', ts: Date.now() });
    await h.tick(60_000);
    expect(h.socket().closedWith).toBeUndefined();
    expect(h.client.state).toBe('live');
  });

  test('no pong within pongTimeoutMs: the connection is dead, closed and replaced', async () => {
    const h = await liveHarness({ pingIntervalMs: 1000, pongTimeoutMs: 500 });
    h.socket().autoPong = false;
    await h.tick(1000);
    expect(h.socket().sent).toEqual([{ action: 'ping' }]);
    await h.tick(499);
    expect(h.client.state).toBe('live');
    await h.tick(1);
    expect(h.sockets[0]?.closedWith?.code).toBe(CLOSE.HEARTBEAT_TIMEOUT);
    expect(h.client.state).toBe('reconnecting');
    await h.tick(250);
    expect(h.sockets.length).toBe(2);
  });
});

describe('planned reconnect before the 2-hour limit', () => {
  test('opens the new connection, subscribes everything with since, and only then closes the old one', async () => {
    const h = await liveHarness();
    const a = record(h.client, 'a');
    const old = h.socket();
    old.receive({ type: 'subscribed', channel: 'a', seq: 4, id: 'a' });
    old.receive(event('e5', { a: 5 }));

    await h.tick(110 * 60_000 - 1);
    expect(h.sockets.length).toBe(1);
    await h.tick(1);
    expect(h.sockets.length).toBe(2);
    const fresh = h.socket();
    expect(old.closedWith).toBeUndefined();
    fresh.open();
    expect(fresh.subscribes()).toEqual([{ action: 'subscribe', channel: 'a', since: 5, id: 'a' }]);
    expect(old.closedWith).toBeUndefined(); // not before the new one is subscribed

    // Overlap: both connections deliver event 6; it reaches the handler once.
    old.receive(event('e6', { a: 6 }));
    fresh.receive({ type: 'subscribed', channel: 'a', seq: 6, id: 'a' });
    expect(old.closedWith).toEqual({ code: CLOSE.NORMAL, reason: 'rotated' });
    fresh.receive(event('e6', { a: 6 }));
    fresh.receive(event('e7', { a: 7 }));
    old.receive(event('e7-late', { a: 7 })); // the old socket is detached: ignored
    expect(a.ids).toEqual(['e5', 'e6', 'e7']);
    expect(h.states).toEqual(['live']); // never left live

    // The new connection carries on: its own heartbeat and its own planned reconnect.
    fresh.drop();
    expect(h.client.state).toBe('reconnecting');
  });

  test('if the new connection fails to open, the old one stays in use', async () => {
    const h = await liveHarness({ maxConnectionMs: 10_000 });
    const a = record(h.client, 'a');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 0, id: 'a' });
    await h.tick(10_000);
    h.socket().drop();
    expect(h.sockets[0]?.closedWith).toBeUndefined();
    h.sockets[0]?.receive(event('e1', { a: 1 }));
    expect(a.ids).toEqual(['e1']);
    expect(h.client.state).toBe('live');
  });

  test('if the old connection dies while the new one is subscribing, the new one takes over', async () => {
    const h = await liveHarness({ maxConnectionMs: 10_000 });
    const a = record(h.client, 'a');
    h.socket().receive({ type: 'subscribed', channel: 'a', seq: 0, id: 'a' });
    await h.tick(10_000);
    const fresh = h.socket();
    fresh.open();
    h.sockets[0]?.drop(1001);
    expect(h.client.state).toBe('live');
    fresh.receive({ type: 'subscribed', channel: 'a', seq: 1, id: 'a' });
    fresh.receive(event('e1', { a: 1 }));
    expect(a.ids).toEqual(['e1']);
    await h.tick(9_999);
    expect(h.sockets.length).toBe(2); // no extra reconnect before the new connection's own planned one
  });
});
