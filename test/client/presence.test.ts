import type { FetchLike, Member, Presence, SwitchboardError } from '../../client/src';
import { event, FakeSocket, harness, liveHarness, record } from './fake-socket';

/**
 * Presence in the client (protocol §8), on the fake socket: `presence(channel)`, the member list it
 * keeps from `join` / `leave`, asked again after every reconnect, and its errors.
 */
beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

const ben: Member = { sub: 'spec-2', role: 'specialist', name: 'Dr. Ben Okafor' };
const ana: Member = { sub: 'spec-1', role: 'specialist', name: 'Dr. Ana Ribeiro' };
const ada: Member = { sub: 'adm', role: 'admin' };

const asks = (s: FakeSocket) => s.sent.filter((f) => f.action === 'presence');
const answer = (s: FakeSocket, channel: string, members: Member[], occupancy = members.length) =>
  s.receive({ type: 'presence', channel, members, occupancy, id: `?${channel}` });
const join = (s: FakeSocket, channel: string, member: Member) => s.receive({ type: 'join', channel, member });
const leave = (s: FakeSocket, channel: string, member: Member) => s.receive({ type: 'leave', channel, member });
const subs = (members: Member[]) => members.map((m) => m.sub).sort();

describe('presence(channel)', () => {
  test('asks the server; the answer resolves it with members and occupancy, fills members(channel) and emits presence', async () => {
    const h = await liveHarness();
    const loaded: [string, Presence][] = [];
    h.client.on('presence', (ch, p) => loaded.push([ch, p]));
    const asked = h.client.presence('admin');
    expect(asks(h.socket())).toEqual([{ action: 'presence', channel: 'admin', id: '?admin' }]);
    answer(h.socket(), 'admin', [ada, ben], 3);
    await expect(asked).resolves.toEqual({ members: [ada, ben], occupancy: 3 });
    expect(h.client.members('admin')).toEqual([ada, ben]);
    expect(loaded).toEqual([['admin', { members: [ada, ben], occupancy: 3 }]]);
    expect(h.client.members('workpoint_5')).toEqual([]);
  });

  test('two calls before the answer share one request and one answer', async () => {
    const h = await liveHarness();
    const [a, b] = [h.client.presence('admin'), h.client.presence('admin')];
    expect(asks(h.socket())).toHaveLength(1);
    answer(h.socket(), 'admin', [ada]);
    await expect(Promise.all([a, b])).resolves.toEqual([
      { members: [ada], occupancy: 1 },
      { members: [ada], occupancy: 1 },
    ]);
  });

  test('asked before the connection is live: sent once it is', async () => {
    const h = await harness();
    const asked = h.client.presence('admin');
    expect(h.sockets[0]?.sent).toEqual([]);
    h.socket().open();
    expect(asks(h.socket())).toHaveLength(1);
    answer(h.socket(), 'admin', [ada]);
    await expect(asked).resolves.toMatchObject({ members: [ada] });
  });

  test('refused (forbidden, or bad_request when the channel has no presence): rejects with the code; no error event; nothing kept', async () => {
    const h = await liveHarness();
    const errors: SwitchboardError[] = [];
    h.client.on('error', (e) => errors.push(e));
    const forbidden = h.client.presence('admin');
    const off = h.client.presence('public_lobby');
    h.socket().receive({
      type: 'error',
      code: 'forbidden',
      message: 'not allowed to subscribe to "admin"',
      id: '?admin',
    });
    h.socket().receive({
      type: 'error',
      code: 'bad_request',
      message: 'presence is off for "public_lobby"',
      id: '?public_lobby',
    });
    await expect(forbidden).rejects.toEqual({ code: 'forbidden', message: 'not allowed to subscribe to "admin"' });
    await expect(off).rejects.toMatchObject({ code: 'bad_request' });
    expect(errors).toEqual([]);
    h.socket().drop();
    await h.tick(250);
    h.socket().open();
    expect(asks(h.socket())).toEqual([]); // not asked again after a reconnect
  });
});

describe('the member list', () => {
  test('join and leave keep it current and are emitted, for subscribed channels only', async () => {
    const h = await liveHarness();
    record(h.client, 'workpoint_5');
    h.socket().receive({ type: 'subscribed', channel: 'workpoint_5', seq: 0, id: 'workpoint_5' });
    const seen: string[] = [];
    h.client.on('join', (ch, m) => seen.push(`join ${ch} ${m.sub}`));
    h.client.on('leave', (ch, m) => seen.push(`leave ${ch} ${m.sub}`));
    const asked = h.client.presence('workpoint_5');
    answer(h.socket(), 'workpoint_5', [ana]);
    await asked;
    join(h.socket(), 'workpoint_5', ben);
    expect(subs(h.client.members('workpoint_5'))).toEqual(['spec-1', 'spec-2']);
    leave(h.socket(), 'workpoint_5', ana);
    expect(h.client.members('workpoint_5')).toEqual([ben]);
    join(h.socket(), 'workpoint_6', ana); // not subscribed here (another tab's channel): ignored
    expect(seen).toEqual(['join workpoint_5 spec-2', 'leave workpoint_5 spec-1']);
  });

  test('joins and leaves that arrive while an answer is on its way are applied again after it', async () => {
    const h = await liveHarness();
    record(h.client, 'admin');
    const asked = h.client.presence('admin');
    // The answer was read before Ben joined and Ana left, and arrives after their frames.
    join(h.socket(), 'admin', ben);
    leave(h.socket(), 'admin', ana);
    answer(h.socket(), 'admin', [ada, ana]);
    await expect(asked).resolves.toEqual({ members: [ada, ben], occupancy: 2 });
    expect(subs(h.client.members('admin'))).toEqual(['adm', 'spec-2']);
  });

  test('after every reconnect the list is asked again (joins and leaves are not replayed), and presence is emitted', async () => {
    const h = await liveHarness();
    record(h.client, 'admin');
    const loaded: Member[][] = [];
    h.client.on('presence', (_, p) => loaded.push(p.members));
    const asked = h.client.presence('admin');
    answer(h.socket(), 'admin', [ada, ben]);
    await asked;
    h.socket().drop(); // Ben leaves while this client is away: it never hears the leave
    await h.tick(250);
    h.socket().open();
    expect(h.socket().sent).toEqual([
      { action: 'subscribe', channel: 'admin', id: 'admin' },
      { action: 'presence', channel: 'admin', id: '?admin' },
    ]);
    answer(h.socket(), 'admin', [ada]);
    expect(h.client.members('admin')).toEqual([ada]);
    expect(loaded).toEqual([[ada, ben], [ada]]);
  });

  test('a planned reconnect: joins and leaves come once (from the old connection while both are open)', async () => {
    const h = await liveHarness({ maxConnectionMs: 10_000 });
    record(h.client, 'admin');
    const old = h.socket();
    old.receive({ type: 'subscribed', channel: 'admin', seq: 0, id: 'admin' });
    const asked = h.client.presence('admin');
    answer(old, 'admin', [ada]);
    await asked;
    const joins: string[] = [];
    h.client.on('join', (_, m) => joins.push(m.sub));
    await h.tick(10_000);
    const fresh = h.socket();
    fresh.open();
    join(old, 'admin', ben);
    join(fresh, 'admin', ben); // the new connection is subscribed too, not yet in use
    fresh.receive({ type: 'subscribed', channel: 'admin', seq: 0, id: 'admin' });
    expect(joins).toEqual(['spec-2']);
    join(fresh, 'admin', ana); // swapped: the new connection is the one now
    expect(joins).toEqual(['spec-2', 'spec-1']);
    expect(asks(fresh)).toEqual([]); // the same session: nothing to ask again
  });

  test('while polling, presence() asks GET /presence', async () => {
    const requests: string[] = [];
    const fetch: FetchLike = async (url) => {
      requests.push(url);
      const channel = new URL(url).searchParams.get('channel');
      return { ok: true, status: 200, json: async () => ({ type: 'presence', channel, members: [ada], occupancy: 1 }) };
    };
    const h = await harness({ fetch, reconnectCapMs: 1000 });
    for (let i = 0; i < 3; i++) {
      h.socket().drop();
      await h.tick(i < 2 ? 1000 : 0);
    }
    expect(h.client.state).toBe('polling');
    await expect(h.client.presence('admin')).resolves.toEqual({ members: [ada], occupancy: 1 });
    expect(requests).toEqual(['https://api.example.test/presence?channel=admin']);
    expect(h.client.members('admin')).toEqual([ada]);
  });

  test('while polling, a refused GET /presence rejects with the HTTP error', async () => {
    const fetch: FetchLike = async () => ({
      ok: false,
      status: 403,
      json: async () => ({ error: { code: 'forbidden', message: 'not allowed to read "admin"' } }),
    });
    const h = await harness({ fetch, reconnectCapMs: 1000 });
    for (let i = 0; i < 3; i++) {
      h.socket().drop();
      await h.tick(i < 2 ? 1000 : 0);
    }
    await expect(h.client.presence('admin')).rejects.toEqual({
      code: 'forbidden',
      message: 'not allowed to read "admin"',
      status: 403,
    });
  });

  test('a join without a kept list is still emitted (the app may keep its own)', async () => {
    const h = await liveHarness();
    record(h.client, 'admin');
    const seen: Member[] = [];
    h.client.on('join', (_, m) => seen.push(m));
    join(h.socket(), 'admin', ben);
    h.socket().receive(event('e1', { admin: 1 })); // events flow as before
    expect(seen).toEqual([ben]);
    expect(h.client.members('admin')).toEqual([]);
  });
});
