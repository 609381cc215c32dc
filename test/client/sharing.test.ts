import { SwitchboardClient, type FetchLike, type State, type SwitchboardOptions } from '../../client/src';
import { event, FakeSocket, record } from './fake-socket';
import { FakeBrowser, type FakeTab } from './fake-tabs';

/**
 * Tabs sharing one connection (`share`), with fake Web Locks and BroadcastChannels (fake-tabs.ts), fake
 * sockets and jest's fake timers: election, reference-counted channels, routing of replies, handover
 * when the leader closes, crashes or freezes, and fallbacks.
 */
beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

interface Tab {
  client: SwitchboardClient;
  tab: FakeTab;
  states: State[];
  /** Latest `tabs` event: [count, leading]. */
  shared(): [number, boolean] | undefined;
  /** Sockets this tab opened (as the leader). */
  sockets: TabSocket[];
}

class TabSocket extends FakeSocket {
  constructor(
    url: string,
    readonly owner: FakeTab,
  ) {
    super(url);
  }
}

let browser: FakeBrowser;
let sockets: TabSocket[];
const clients: SwitchboardClient[] = [];
beforeEach(() => {
  browser = new FakeBrowser();
  sockets = [];
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

const tick = (ms = 0): Promise<void> => jest.advanceTimersByTimeAsync(ms);

function openTab(options: Partial<SwitchboardOptions> & { key?: string } = {}, tab: FakeTab = browser.tab()): Tab {
  const mine: TabSocket[] = [];
  class Socket extends TabSocket {
    constructor(url: string) {
      super(url, tab);
      sockets.push(this);
      mine.push(this);
    }
  }
  const { key = 'user-1', ...rest } = options;
  const client = new SwitchboardClient({
    url: 'wss://ws.example.test/prod',
    httpUrl: 'https://api.example.test/',
    getToken: async () => 'tok',
    WebSocket: Socket,
    fetch: () => Promise.reject(new Error('no HTTP in this test')),
    random: () => 0.5,
    network: null,
    share: { key, locks: tab.locks, BroadcastChannel: tab.BroadcastChannel },
    ...rest,
  });
  clients.push(client);
  const states: State[] = [];
  let shared: [number, boolean] | undefined;
  client.on('state', (s) => states.push(s));
  client.on('tabs', (n, leading) => (shared = [n, leading]));
  return { client, tab, states, shared: () => shared, sockets: mine };
}

/** The one socket, opened: every tab is live on it. */
function last(): TabSocket {
  const s = sockets.at(-1);
  if (!s) throw new Error('no socket was created');
  return s;
}

/** Three tabs of one user on one open socket. */
async function threeTabs(options: Partial<SwitchboardOptions> = {}): Promise<[Tab, Tab, Tab]> {
  const tabs: [Tab, Tab, Tab] = [openTab(options), openTab(options), openTab(options)];
  await tick();
  last().open();
  await tick();
  return tabs;
}

/** The server's answer to a subscribe: `subscribed` echoing its id. */
function answer(socket: FakeSocket, frame: Record<string, unknown>, seq: number): void {
  socket.receive({ type: 'subscribed', channel: frame.channel, seq, id: frame.id });
}

describe('election', () => {
  test('three tabs of one user open one WebSocket; the first leads, all are live and count 3 tabs', async () => {
    const [a, b, c] = await threeTabs();
    expect(sockets).toHaveLength(1);
    expect(a.sockets).toHaveLength(1);
    for (const t of [a, b, c]) expect(t.client.state).toBe('live');
    await tick(500); // followers have said hello
    expect([a.shared(), b.shared(), c.shared()]).toEqual([
      [3, true],
      [3, false],
      [3, false],
    ]);
    expect([a.client.leading, b.client.leading, c.client.tabCount]).toEqual([true, false, 3]);
    expect(b.states).toEqual(['live']);
  });

  test('a tab opened later joins the live connection without a socket of its own', async () => {
    await threeTabs();
    const d = openTab();
    await tick(500);
    expect(sockets).toHaveLength(1);
    expect(d.client.state).toBe('live');
    expect(d.shared()).toEqual([4, false]);
  });

  test("two keys (two people) never share: two sockets, and neither tab sees the other one's events", async () => {
    const ana = openTab({ key: 'ana' });
    const ben = openTab({ key: 'ben' });
    await tick();
    expect(sockets.map((s) => s.owner)).toEqual([ana.tab, ben.tab]);
    for (const s of sockets) s.open();
    await tick();
    const anaGot = record(ana.client, 'public_x');
    const benGot = record(ben.client, 'public_x');
    await tick();
    const [anaSocket, benSocket] = sockets as [TabSocket, TabSocket];
    answer(anaSocket, anaSocket.subscribes()[0] ?? {}, 0);
    answer(benSocket, benSocket.subscribes()[0] ?? {}, 0);
    anaSocket.receive(event('for-ana', { public_x: 1 }));
    await tick();
    expect(anaGot.ids).toEqual(['for-ana']);
    expect(benGot.ids).toEqual([]);
    expect([ana.client.tabCount, ana.client.leading, ben.client.tabCount, ben.client.leading]).toEqual([
      1,
      true,
      1,
      true,
    ]);
  });

  test('without Web Locks or BroadcastChannel, or with share: false, each tab has its own connection', async () => {
    const t = browser.tab();
    const noLocks = openTab({ share: { key: 'u', BroadcastChannel: t.BroadcastChannel } }, t);
    const off = openTab({ share: false });
    const plain = openTab({ share: undefined });
    await tick();
    expect(sockets).toHaveLength(3);
    expect([noLocks, off, plain].map((x) => x.client.leading)).toEqual([true, true, true]);
  });
});

describe('channels across tabs', () => {
  test('each tab gets exactly the events of its own channels, once, in seq order; replies go to the tab that asked', async () => {
    const [a, b, c] = await threeTabs();
    const subscribedIn = { a: [] as string[], b: [] as string[], c: [] as string[] };
    a.client.on('subscribed', (ch, seq) => subscribedIn.a.push(`${ch}@${seq}`));
    b.client.on('subscribed', (ch, seq) => subscribedIn.b.push(`${ch}@${seq}`));
    c.client.on('subscribed', (ch, seq) => subscribedIn.c.push(`${ch}@${seq}`));
    const aA = record(a.client, 'a');
    const bA = record(b.client, 'a');
    const bB = record(b.client, 'b');
    const cB = record(c.client, 'b');
    await tick();
    const socket = last();
    const subs = socket.subscribes();
    // One subscribe per tab and channel, each with the asking tab in front of its id.
    expect(subs.map((f) => f.channel).sort()).toEqual(['a', 'a', 'b', 'b']);
    expect(new Set(subs.map((f) => String(f.id).split(' ')[0])).size).toBe(3);
    subs.forEach((f, i) => answer(socket, f, f.channel === 'a' ? 4 + (i % 2) : 10)); // the two a replies: 4 and 5
    socket.receive(event('a5', { a: 5 }));
    socket.receive(event('b11', { b: 11 }));
    socket.receive(event('ab', { a: 6, b: 12 }));
    socket.receive(event('ab', { a: 6, b: 12 })); // a retried fan-out repeats a frame
    socket.receive(event('a7', { a: 7 }));
    await tick();
    expect(subscribedIn.a).toEqual(['a@4']);
    expect(subscribedIn.b.sort()).toEqual(['a@5', 'b@10']);
    expect(subscribedIn.c).toEqual(['b@10']);
    expect(aA.ids).toEqual(['a5', 'ab', 'a7']);
    expect(bA.ids).toEqual(['ab', 'a7']); // its baseline was 5
    expect(bB.ids).toEqual(['b11', 'ab']);
    expect(cB.ids).toEqual(['b11', 'ab']);
  });

  test('an error reply reaches only the tab whose subscribe it answers', async () => {
    const [a, b] = await threeTabs();
    const errors: string[] = [];
    a.client.on('error', (e) => errors.push(`a:${e.code}:${e.channel}`));
    b.client.on('error', (e) => errors.push(`b:${e.code}:${e.channel}`));
    b.client.subscribe('admin', () => undefined);
    await tick();
    const sub = last().subscribes()[0] ?? {};
    last().receive({ type: 'error', code: 'forbidden', message: 'not allowed', id: sub.id });
    await tick();
    expect(errors).toEqual(['b:forbidden:admin']);
  });

  test('presence over the shared connection: a follower asks through the leader; the answer and joins / leaves reach every tab that keeps the list', async () => {
    const [a, b, c] = await threeTabs();
    for (const t of [a, b]) record(t.client, 'admin');
    await tick();
    const follower = b.sockets.length === 0 ? b : a;
    const other = follower === b ? a : b;
    const asked = follower.client.presence('admin');
    await tick();
    const ask = last().sent.filter((f) => f.action === 'presence');
    expect(ask).toEqual([{ action: 'presence', channel: 'admin', id: '?admin' }]);
    const ada = { sub: 'adm', role: 'admin' };
    const ben = { sub: 'spec-2', role: 'specialist' };
    last().receive({ type: 'presence', channel: 'admin', members: [ada], occupancy: 1, id: '?admin' });
    await expect(asked).resolves.toEqual({ members: [ada], occupancy: 1 });
    const joins: string[] = [];
    for (const [name, t] of [
      ['a', a],
      ['b', b],
      ['c', c],
    ] as const)
      t.client.on('join', (ch, m) => joins.push(`${name} ${ch} ${m.sub}`));
    last().receive({ type: 'join', channel: 'admin', member: ben });
    await tick();
    expect(joins.sort()).toEqual(['a admin spec-2', 'b admin spec-2']); // c has no admin channel
    expect(
      follower.client
        .members('admin')
        .map((m) => m.sub)
        .sort(),
    ).toEqual(['adm', 'spec-2']);
    expect(other.client.members('admin')).toEqual([]); // it never asked
  });

  test('reference-counted: a channel is unsubscribed on the server only when its last tab lets go', async () => {
    const [a, b, c] = await threeTabs();
    const offA = record(a.client, 'a').off;
    record(b.client, 'a');
    record(c.client, 'a');
    await tick();
    const unsubscribes = () => last().sent.filter((f) => f.action === 'unsubscribe');
    c.client.unsubscribe('a');
    await tick();
    b.client.close(); // a follower leaves
    await tick();
    expect(unsubscribes()).toEqual([]);
    offA();
    await tick();
    expect(unsubscribes()).toEqual([{ action: 'unsubscribe', channel: 'a', id: 'a' }]);
  });

  test('a follower that crashes (no goodbye) lets go of its channels: the leader waits on its lock', async () => {
    const [a, b] = await threeTabs();
    record(a.client, 'shared');
    record(b.client, 'shared');
    record(b.client, 'only_b');
    await tick();
    b.tab.crash();
    await tick();
    expect(last().sent.filter((f) => f.action === 'unsubscribe')).toEqual([
      { action: 'unsubscribe', channel: 'only_b', id: 'only_b' },
    ]);
    expect(a.shared()).toEqual([2, true]);
  });
});

describe('handover', () => {
  /** Three live tabs on channel `a` at seq 6; returns what each tab received. */
  async function onChannelA(): Promise<{ tabs: [Tab, Tab, Tab]; got: string[][] }> {
    const tabs = await threeTabs();
    const got = tabs.map((t) => record(t.client, 'a').ids);
    await tick();
    for (const f of last().subscribes()) answer(last(), f, 5);
    last().receive(event('e6', { a: 6 }));
    await tick();
    return { tabs, got };
  }

  /** The server side of resubscribing with since on a new socket: `subscribed`, then the replay, for each subscribe. */
  function replay(socket: FakeSocket, events: Record<number, string>): void {
    const top = Math.max(...Object.keys(events).map(Number));
    for (const f of socket.subscribes()) {
      answer(socket, f, top);
      for (const [seq, id] of Object.entries(events))
        if (Number(seq) > Number(f.since)) socket.receive(event(id, { a: Number(seq) }));
    }
  }

  test('the leader closes: the next tab leads at once, every tab resubscribes with since, nothing missed or repeated', async () => {
    const { tabs, got } = await onChannelA();
    const [a, b, c] = tabs;
    const old = last();
    a.client.close();
    expect(old.closedWith?.code).toBe(1000);
    await tick();
    expect(sockets).toHaveLength(2);
    expect(last().owner).toBe(b.tab);
    expect([b.client.state, c.client.state]).toEqual(['reconnecting', 'reconnecting']);
    last().open();
    await tick();
    expect([b.client.state, c.client.state]).toEqual(['live', 'live']);
    // Both remaining tabs resubscribed with since=6 on the new connection; e7, e8 were published meanwhile.
    expect(
      last()
        .subscribes()
        .map((f) => f.since),
    ).toEqual([6, 6]);
    replay(last(), { 7: 'e7', 8: 'e8' });
    last().receive(event('e9', { a: 9 }));
    await tick();
    expect(got).toEqual([['e6'], ['e6', 'e7', 'e8', 'e9'], ['e6', 'e7', 'e8', 'e9']]);
    expect(b.states).toEqual(['live', 'reconnecting', 'live']);
    await tick(500);
    expect([b.shared(), c.shared()]).toEqual([
      [2, true],
      [2, false],
    ]);
  });

  test('the leader crashes: its lock is released, the next tab takes over', async () => {
    const { tabs, got } = await onChannelA();
    const [a, b, c] = tabs;
    a.tab.crash();
    await tick();
    expect(sockets).toHaveLength(2);
    expect(last().owner).toBe(b.tab);
    last().open();
    await tick();
    replay(last(), { 7: 'e7' });
    await tick();
    expect([got[1], got[2]]).toEqual([
      ['e6', 'e7'],
      ['e6', 'e7'],
    ]);
    expect(c.client.state).toBe('live');
  });

  test('a frozen leader: one follower takes its lock after leaderTimeoutMs; the old leader steps down when it thaws', async () => {
    const { tabs, got } = await onChannelA();
    const [a, b, c] = tabs;
    const old = last();
    browser.latencyMs = 1; // the new leader's first word reaches the other follower after that one also found the leader silent
    a.tab.freeze();
    const frozenAt = Date.now();
    // The frozen tab's socket still delivers to it (the browser buffers), but it cannot forward anything.
    await tick(1000);
    expect(sockets).toHaveLength(1);
    await tick(500);
    expect(sockets).toHaveLength(2);
    expect(browser.steals).toBe(1); // exactly one follower took the lock, though both found the leader silent
    expect(Date.now() - frozenAt).toBeLessThanOrEqual(1500);
    browser.latencyMs = 0;
    await tick(1);
    const fresh = last();
    expect([b.tab, c.tab]).toContain(fresh.owner);
    fresh.open();
    await tick();
    expect([b.client.state, c.client.state]).toEqual(['live', 'live']);
    replay(fresh, { 7: 'e7' });
    await tick();
    expect(old.closedWith).toBeUndefined(); // still frozen
    const before = fresh.subscribes().length;

    a.tab.thaw();
    await tick();
    expect(old.closedWith?.code).toBe(1000); // stepped down
    await tick(500); // it asked the new leader and resubscribed with since on its connection
    const aSub = fresh.subscribes()[before];
    expect(fresh.subscribes()).toHaveLength(before + 1);
    expect(aSub?.since).toBe(6);
    if (aSub) {
      answer(fresh, aSub, 7);
      fresh.receive(event('e7', { a: 7 }));
    }
    fresh.receive(event('e8', { a: 8 }));
    await tick();
    expect(got).toEqual([
      ['e6', 'e7', 'e8'],
      ['e6', 'e7', 'e8'],
      ['e6', 'e7', 'e8'],
    ]);
    expect(a.client.state).toBe('live');
    expect(a.client.leading).toBe(false);
    expect(sockets).toHaveLength(2);
  });

  test('a follower that slept (its timers ran late) does not judge the leader by what it asked before', async () => {
    const { tabs } = await onChannelA();
    tabs[0].tab.freeze(); // the leader does not answer...
    await tick(500); // ...what the followers ask now
    jest.setSystemTime(Date.now() + 60_000); // the machine slept: no timer ran for a minute
    await tick(500); // the followers' timers run late: they ask again instead of taking over
    expect(browser.steals).toBe(0);
    tabs[0].tab.thaw(); // and the leader answers
    await tick(3000);
    expect(browser.steals).toBe(0);
    expect(sockets).toHaveLength(1);
  });

  test('a follower that lost messages catches up: the leader answers with its seqs, the tab resubscribes with since', async () => {
    const { tabs, got } = await onChannelA();
    const c = tabs[2];
    c.tab.freeze({ dropMessages: true });
    last().receive(event('e7', { a: 7 }));
    last().receive(event('e8', { a: 8 }));
    await tick();
    c.tab.thaw();
    expect(got[2]).toEqual(['e6']);
    await tick(500); // it asks the leader; the answer says a is at 8
    await tick(1000); // the gap is held, then recovered with since
    const again = last()
      .subscribes()
      .filter((f) => f.since === 6);
    expect(again).toHaveLength(1);
    replay(last(), { 7: 'e7', 8: 'e8' });
    await tick();
    expect(got).toEqual([
      ['e6', 'e7', 'e8'],
      ['e6', 'e7', 'e8'],
      ['e6', 'e7', 'e8'],
    ]);
  });
  test('pong seqs reach every tab: a tab whose last event was lost recovers with since', async () => {
    const { tabs, got } = await onChannelA();
    const c = tabs[2];
    c.tab.freeze({ dropMessages: true });
    last().receive(event('e7', { a: 7 }));
    await tick();
    c.tab.thaw();
    last().receive({ type: 'pong', ts: Date.now(), seqs: { a: 7 } });
    await tick(1000); // the gap is held, then recovered with since
    expect(
      last()
        .subscribes()
        .filter((f) => f.since === 6),
    ).toHaveLength(1);
    replay(last(), { 7: 'e7' });
    await tick();
    expect(got).toEqual([
      ['e6', 'e7'],
      ['e6', 'e7'],
      ['e6', 'e7'],
    ]);
  });
});

describe('the shared connection', () => {
  test("token refresh uses the leader's getToken: a follower's forbidden makes the leader reconnect once", async () => {
    const leaderTokens: string[] = [];
    const a = openTab({ getToken: async () => `lead-${leaderTokens.push('x')}` });
    const b = openTab({ getToken: async () => 'follower-token' });
    await tick();
    last().open();
    await tick();
    record(b.client, 'a');
    await tick();
    const sub = last().subscribes()[0] ?? {};
    answer(last(), sub, 3);
    last().receive({
      type: 'error',
      code: 'forbidden',
      message: 'token expired; reconnect with a fresh token',
      id: sub.id,
    });
    await tick();
    expect(sockets[0]?.closedWith?.code).toBe(4003);
    await tick(250);
    expect(sockets).toHaveLength(2);
    expect(last().url).toMatch(/token=lead-2$/);
    expect(sockets.every((s) => !s.url.includes('follower'))).toBe(true);
    expect(a.client.leading).toBe(true);
  });

  test("the leader's state is every tab's; while polling, each tab polls its own channels with its own token", async () => {
    const requests: string[] = [];
    const api =
      (who: string): FetchLike =>
      async (url, init) => {
        requests.push(`${who} ${url.replace('https://api.example.test', '')} ${init.headers.authorization}`);
        return {
          ok: true,
          status: 200,
          json: async () => ({ versions: { [new URL(url).searchParams.get('channels') ?? '']: 0 } }),
        };
      };
    const a = openTab({ fetch: api('a'), getToken: async () => 'ta', reconnectCapMs: 1000 });
    const b = openTab({ fetch: api('b'), getToken: async () => 'tb' });
    record(a.client, 'for_a');
    record(b.client, 'for_b');
    await tick();
    for (let i = 0; i < 3; i++) {
      last().drop();
      await tick(1000);
    }
    expect([a.client.state, b.client.state]).toEqual(['polling', 'polling']);
    expect(requests.sort()).toEqual(['a /version?channels=for_a Bearer ta', 'b /version?channels=for_b Bearer tb']);
    last().open();
    await tick();
    expect([a.client.state, b.client.state]).toEqual(['live', 'live']);
  });

  test("the planned reconnect is the leader's: it resubscribes the union with the highest seq seen; tabs stay live", async () => {
    const [a, b] = await threeTabs({ maxConnectionMs: 60_000 });
    const gotA = record(a.client, 'a');
    const gotB = record(b.client, 'b');
    await tick();
    const old = last();
    for (const f of old.subscribes()) answer(old, f, 1);
    old.receive(event('b2', { b: 2 }));
    await tick(60_000);
    const fresh = last();
    expect(fresh).not.toBe(old);
    fresh.open();
    expect(fresh.subscribes()).toEqual([
      { action: 'subscribe', channel: 'a', since: 1, id: 'a' },
      { action: 'subscribe', channel: 'b', since: 2, id: 'b' },
    ]);
    answer(fresh, { channel: 'a', id: 'a' }, 1);
    expect(old.closedWith).toBeUndefined();
    answer(fresh, { channel: 'b', id: 'b' }, 2);
    expect(old.closedWith).toEqual({ code: 1000, reason: 'rotated' });
    fresh.receive(event('a2', { a: 2 }));
    await tick();
    expect([gotA.ids, gotB.ids]).toEqual([['a2'], ['b2']]);
    expect([a.states, b.states]).toEqual([['live'], ['live']]);
  });
});
