import { signToken, type TokenClaims } from '../helpers/runtime';
import { startRuntimeProcess, type RuntimeProcess } from './support/runtime-process';
import { TestClient, uniqueId, type Frame } from './support/ws-client';

/**
 * Presence end to end through `npm start`'s runtime (protocol §8): first join / last leave across
 * connections, join and leave frames to the other subscribers, `presence` and `GET /presence`, a
 * connection whose `$disconnect` never comes, and 20 users joining and leaving at once. Tests keep
 * apart by channel names (unique workpoint / specialist ids).
 */
jest.setTimeout(90_000);

let rt: RuntimeProcess;
const clients: TestClient[] = [];

beforeAll(async () => {
  rt = await startRuntimeProcess();
}, 90_000);
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await rt.settle();
});
afterAll(async () => {
  await rt?.stop();
});

async function connect(r: RuntimeProcess, claims: TokenClaims, opts: { channels?: string } = {}): Promise<TestClient> {
  const c = await TestClient.connect(r.endpoints.websocketUrl, await signToken(claims), opts);
  clients.push(c);
  return c;
}

const member = (c: TokenClaims) => ({
  sub: c.sub,
  ...(c.role && { role: c.role }),
  ...(typeof c.name === 'string' && { name: c.name }),
});
const isMemberFrame = (f: Frame) => f.type === 'join' || f.type === 'leave';
const memberFrame = (type: 'join' | 'leave', channel: string, sub: string) => (f: Frame) =>
  f.type === type && f.channel === channel && (f.member as { sub?: string }).sub === sub;

async function presence(c: TestClient, channel: string): Promise<Frame> {
  const id = `p-${uniqueId()}`;
  c.send({ action: 'presence', channel, id });
  return c.next((f) => f.id === id, 10_000, `the answer to presence ${channel}`);
}

async function getPresence(
  r: RuntimeProcess,
  claims: TokenClaims,
  channel: string,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${r.endpoints.httpUrl}/presence?channel=${channel}`, {
    headers: { authorization: `Bearer ${await signToken(claims)}` },
  });
  return { status: res.status, body: await res.json() };
}

describe('join and leave', () => {
  test("a user's first connection joins and their last one leaves; a second device or tab is no join, one of two closing no leave", async () => {
    const sp = uniqueId();
    const ch = `specialist_${sp}`;
    const admin = { sub: `adm-${sp}`, role: 'admin', name: 'Ada Admin' };
    const ben = { sub: `spec-${sp}`, role: 'specialist', specialist_id: sp, name: 'Dr. Ben Okafor' };
    const watcher = await connect(rt, admin);
    expect(await watcher.subscribe(ch)).toMatchObject({ type: 'subscribed' });
    await watcher.next(memberFrame('join', ch, admin.sub)); // its own join

    const laptop = await connect(rt, ben);
    expect(await laptop.subscribe(ch)).toMatchObject({ type: 'subscribed', channel: ch });
    expect(await watcher.next(isMemberFrame)).toEqual({ type: 'join', channel: ch, member: member(ben) });
    await laptop.next(memberFrame('join', ch, ben.sub)); // the joining connection hears its join too

    const phone = await connect(rt, ben, { channels: ch }); // subscribed in the handshake: no join
    expect(await laptop.subscribe(ch)).toMatchObject({ type: 'subscribed' }); // subscribed again: no join
    expect(await presence(watcher, ch)).toMatchObject({
      type: 'presence',
      channel: ch,
      members: [member(admin), member(ben)],
      occupancy: 3,
    });

    const laptopId = await rt.connectionIdOf(laptop.tag);
    await laptop.close(); // one of two: no leave
    await rt.waitForEvent(
      (e) => e.type === 'disconnected' && e.connectionId === laptopId,
      10_000,
      'the $disconnect of the laptop',
    );
    expect(await presence(watcher, ch)).toMatchObject({ members: [member(admin), member(ben)], occupancy: 2 });
    phone.send({ action: 'unsubscribe', channel: ch, id: 'u' });
    await phone.next((f) => f.id === 'u');
    expect(await watcher.next(isMemberFrame)).toEqual({ type: 'leave', channel: ch, member: member(ben) });
    expect(await presence(watcher, ch)).toMatchObject({ members: [member(admin)], occupancy: 1 });
    expect(watcher.unclaimed().filter(isMemberFrame)).toEqual([]); // exactly one join and one leave
  });

  test('a socket terminated without a close frame: $disconnect runs and the user leaves', async () => {
    const wp = uniqueId();
    const ch = `workpoint_${wp}`;
    const watcher = await connect(rt, { sub: `adm-${wp}`, role: 'admin' }, { channels: ch });
    const sup = await connect(rt, { sub: `sup-${wp}`, role: 'supervisor', workpoint_id: wp }, { channels: ch });
    expect(await watcher.next(isMemberFrame)).toEqual({
      type: 'join',
      channel: ch,
      member: { sub: `sup-${wp}`, role: 'supervisor' },
    });
    expect(await presence(watcher, ch)).toMatchObject({ occupancy: 2 });
    sup.ws.terminate();
    expect(await watcher.next(isMemberFrame)).toEqual({
      type: 'leave',
      channel: ch,
      member: { sub: `sup-${wp}`, role: 'supervisor' },
    });
  });
});

describe('presence requests', () => {
  test('presence off → bad_request; a channel the connection may not subscribe → forbidden; the connection stays usable', async () => {
    const sp = uniqueId();
    const c = await connect(rt, { sub: `spec-${sp}`, role: 'specialist', specialist_id: sp });
    c.send({ action: 'presence', channel: 'public_lobby', id: 'off' });
    expect(await c.next((f) => f.id === 'off')).toEqual({
      type: 'error',
      code: 'bad_request',
      message: 'presence is off for "public_lobby"',
      id: 'off',
    });
    c.send({ action: 'presence', channel: `user_spec-${sp}`, id: 'own' });
    expect(await c.next((f) => f.id === 'own')).toMatchObject({ type: 'error', code: 'bad_request' });
    c.send({ action: 'presence', channel: 'admin', id: 'no' });
    expect(await c.next((f) => f.id === 'no')).toEqual({
      type: 'error',
      code: 'forbidden',
      message: 'not allowed to subscribe to "admin"',
      id: 'no',
    });
    c.send({ action: 'presence', channel: `specialist_${sp + 1}`, id: 'other' });
    expect(await c.next((f) => f.id === 'other')).toMatchObject({ type: 'error', code: 'forbidden' });
    expect(await presence(c, `specialist_${sp}`)).toMatchObject({
      type: 'presence',
      channel: `specialist_${sp}`,
      members: [],
      occupancy: 0,
    });
  });

  test('GET /presence: 200 with the body of the presence frame with access; 403 without; 400 when presence is off; 401 without a token', async () => {
    const wp = uniqueId();
    const ch = `workpoint_${wp}`;
    const sup = { sub: `sup-${wp}`, role: 'supervisor', workpoint_id: wp, name: 'Sam Supervisor' };
    await connect(rt, sup, { channels: ch });
    const body = { type: 'presence', channel: ch, members: [member(sup)], occupancy: 1 };
    expect(await getPresence(rt, sup, ch)).toEqual({ status: 200, body });
    expect(await getPresence(rt, { sub: 'adm', role: 'admin' }, ch)).toEqual({ status: 200, body });
    expect(await getPresence(rt, { sub: 'other', role: 'supervisor', workpoint_id: wp + 1 }, ch)).toMatchObject({
      status: 403,
      body: { error: { code: 'forbidden' } },
    });
    expect(await getPresence(rt, { sub: 'adm', role: 'admin' }, 'public_lobby')).toMatchObject({
      status: 400,
      body: { error: { code: 'bad_request' } },
    });
    expect((await fetch(`${rt.endpoints.httpUrl}/presence?channel=${ch}`)).status).toBe(401);
  });
});

describe('20 users joining and leaving at once', () => {
  test('every user joins once and leaves once, whatever their two connections do; the member lists are exact', async () => {
    const wp = uniqueId();
    const ch = `workpoint_${wp}`;
    const observer = { sub: `obs-${wp}`, role: 'admin' };
    const watcher = await connect(rt, observer, { channels: ch });
    const users = Array.from({ length: 20 }, (_, i) => ({
      sub: `u${String(i).padStart(2, '0')}-${wp}`,
      role: 'supervisor',
      workpoint_id: wp,
      name: `User ${i}`,
    }));
    const frames: Frame[] = [];
    const collect = async (count: number, type: 'join' | 'leave') => {
      for (let i = 0; i < count; i++)
        frames.push(
          await watcher.next((f) => f.type === type && f.channel === ch, 30_000, `${type} ${i + 1} of ${count}`),
        );
    };

    // Each user opens two connections at once: one subscribes in its handshake, one with a frame.
    const conns = await Promise.all(
      users.map(async (u) => {
        const [a, b] = await Promise.all([connect(rt, u, { channels: ch }), connect(rt, u)]);
        const subscribed = await b.subscribe(ch);
        expect(subscribed).toMatchObject({ type: 'subscribed' });
        return [a, b] as const;
      }),
    );
    await collect(20, 'join');
    const listed = (await presence(watcher, ch)).members as { sub: string }[];
    expect(listed.map((m) => m.sub)).toEqual([observer, ...users].map((u) => u.sub).sort());
    expect(await presence(watcher, ch)).toMatchObject({ occupancy: 41 });

    // The first ten leave, both connections at once and each in its own way; the others stay.
    await Promise.all(
      conns.slice(0, 10).map(async ([a, b], i) => {
        if (i % 3 === 0) await Promise.all([a.close(), b.close()]);
        else if (i % 3 === 1) {
          b.send({ action: 'unsubscribe', channel: ch });
          await a.close();
        } else {
          a.ws.terminate();
          b.send({ action: 'unsubscribe', channel: ch });
        }
      }),
    );
    await collect(10, 'leave');
    await rt.settle();
    expect(((await presence(watcher, ch)).members as { sub: string }[]).map((m) => m.sub)).toEqual(
      [observer, ...users.slice(10)].map((u) => u.sub).sort(),
    );

    // The other ten leave too.
    await Promise.all(conns.slice(10).map(([a, b]) => Promise.all([a.close(), b.close()])));
    await collect(10, 'leave');
    await rt.settle();
    expect(await presence(watcher, ch)).toEqual(expect.objectContaining({ members: [member(observer)], occupancy: 1 }));

    const perUser = new Map<string, string[]>();
    for (const f of [...frames, ...watcher.unclaimed().filter(isMemberFrame)]) {
      const sub = (f.member as { sub: string }).sub;
      perUser.set(sub, [...(perUser.get(sub) ?? []), f.type]);
    }
    for (const u of users) expect([u.sub, perUser.get(u.sub)]).toEqual([u.sub, ['join', 'leave']]);
    expect(perUser.size).toBe(20);
  });
});

describe('a connection whose $disconnect never comes', () => {
  // Its own runtime: presence TTL 2 s (SWITCHBOARD_PRESENCE_TTL_SECONDS; production 420 s).
  const TTL_S = 2;
  const PING_MS = 500;
  let short: RuntimeProcess;
  beforeAll(async () => {
    short = await startRuntimeProcess({ SWITCHBOARD_PRESENCE_TTL_SECONDS: String(TTL_S) });
  }, 90_000);
  afterAll(async () => {
    await short?.stop();
  });

  test('its user leaves within the bound: TTL after its last ping, at the next ping of a subscriber', async () => {
    const sp = uniqueId();
    const ch = `specialist_${sp}`;
    const watcher = await connect(short, { sub: `adm-${sp}`, role: 'admin' }, { channels: ch });
    const ghost = await connect(short, { sub: `spec-${sp}`, role: 'specialist', specialist_id: sp }, { channels: ch });
    const ghostId = await short.connectionIdOf(ghost.tag);
    await watcher.next(memberFrame('join', ch, `spec-${sp}`));
    // Both ping like the client's heartbeat (here every 500 ms instead of 5 minutes).
    const heartbeat = setInterval(() => watcher.send({ action: 'ping' }), PING_MS);
    const ghostHeartbeat = setInterval(() => ghost.send({ action: 'ping' }), PING_MS);
    try {
      // Both stay while they ping, well past the TTL.
      await new Promise((r) => setTimeout(r, TTL_S * 1500));
      expect(await presence(watcher, ch)).toMatchObject({ occupancy: 2 });
      expect(watcher.unclaimed().filter(isMemberFrame)).toEqual([]);

      clearInterval(ghostHeartbeat);
      const vanishedAt = Date.now();
      expect(await short.vanish(ghostId)).toBe(true);
      const leave = await watcher.next(
        isMemberFrame,
        (TTL_S * 1000 + PING_MS) * 3,
        'the leave of the vanished connection',
      );
      const tookMs = Date.now() - vanishedAt;
      expect(leave).toEqual({ type: 'leave', channel: ch, member: { sub: `spec-${sp}`, role: 'specialist' } });
      // The bound: TTL after the last ping (here ≤ TTL after vanishing) plus one heartbeat of a subscriber, plus scheduling slack.
      expect(tookMs).toBeLessThanOrEqual(TTL_S * 1000 + PING_MS + 1500);
      process.stdout.write(`vanished connection left after ${tookMs} ms (TTL ${TTL_S} s, pings every ${PING_MS} ms)\n`);
      expect(await presence(watcher, ch)).toMatchObject({ occupancy: 1 });
      expect(short.events.some((e) => e.type === 'disconnected' && e.connectionId === ghostId)).toBe(false);
    } finally {
      clearInterval(heartbeat);
      clearInterval(ghostHeartbeat);
    }
  });
});
