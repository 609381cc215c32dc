import { runtimeForFile } from '../helpers/e2e';
import { signToken } from '../helpers/runtime';
import { CheckingClient } from './support/checking-client';

/**
 * The `$connect` race (issue "Delivery guarantees"): subscriptions from `?channels=` are written
 * before `$connect` returns, and until it has, a post to the connection answers 410 (on AWS and
 * locally). Such a 410 must not delete the subscriptions of a connection that is about to open.
 * Reproduced with 150 connections subscribing in the handshake while events flow on their channel,
 * every handshake held open a little longer (post_gone_at_connect=1).
 */
const clients: CheckingClient[] = [];
const e2e = runtimeForFile(
  { SWITCHBOARD_LOCAL_FAULTS: 'post_gone_at_connect=1', SWITCHBOARD_LOCAL_SEED: '7' },
  {
    beforeStop: () => {
      for (const c of clients) c.close();
    },
  },
);
test('connections subscribing in the handshake while events flow keep their subscriptions and get every later event live', async () => {
  const channel = `public_race_${Date.now()}`;
  const admin = await signToken({ sub: 'admin', role: 'admin' });
  const e = e2e.rt.endpoints;
  let flowing = true;
  let n = 0;
  const flow = (async () => {
    while (flowing) {
      await e2e.pub.publish([channel], 'tick', { n: n++ });
      await new Promise((r) => setTimeout(r, 30));
    }
  })();
  const opening = Array.from({ length: 150 }, async (_, i) => {
    const c = new CheckingClient({
      websocketUrl: e.websocketUrl,
      httpUrl: e.httpUrl,
      token: await signToken({ sub: `race-${i}` }),
      adminToken: admin,
    });
    clients.push(c);
    await c.open([channel], true);
    return c;
  });
  const opened = await Promise.all(opening);
  flowing = false;
  await flow;
  expect(
    e2e.rt.events.filter((ev) => ev.type === 'fault' && ev.fault === 'post_gone_at_connect').length,
  ).toBeGreaterThanOrEqual(150);

  // Every subscription survived: the channel still has all 150 subscribers.
  const info = await fetch(`${e.httpUrl}/channels/${channel}`, { headers: { authorization: `Bearer ${admin}` } });
  expect(((await info.json()) as { subscribers: number }).subscribers).toBe(150);

  // And each gets the events after it opened live, up to a last one published now.
  const last = await e2e.pub.publish([channel], 'last', null);
  const done = await e2e.rt.waitForEvent(
    (ev) => ev.type === 'sequenced' && ev.ids.includes(last.id),
    30_000,
    'the last event',
  );
  expect(done.type).toBe('sequenced');
  const version = await fetch(`${e.httpUrl}/version?channels=${channel}`, {
    headers: { authorization: `Bearer ${admin}` },
  });
  const final = ((await version.json()) as { versions: Record<string, number> }).versions[channel] as number;
  await Promise.all(opened.map((c) => c.settle({ [channel]: final }, 30_000)));
  for (const c of opened) {
    const log = c.channels.get(channel);
    expect({ liveMax: log?.liveMax, outOfOrder: log?.outOfOrder, conflicts: log?.conflicts }).toEqual({
      liveMax: final,
      outOfOrder: [],
      conflicts: [],
    });
  }
}, 180_000);
