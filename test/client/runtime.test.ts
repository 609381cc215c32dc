import WebSocket from 'ws';
import { SwitchboardClient, type SocketConstructor, type State } from '../../client/src';
import type { EventFrame } from '../../client/src/frames';
import { uniqueId } from '../e2e/support/ws-client';
import { runtimeForFile } from '../helpers/e2e';
import { signToken } from '../helpers/runtime';

/**
 * The client against the real local runtime (`npm start`'s processes on free ports): live delivery,
 * recovery by `since` after the connection is cut, and the polling fallback over the HTTP API.
 */
jest.setTimeout(60_000);

const clients: SwitchboardClient[] = [];

const e2e = runtimeForFile();

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

/** `ws` sockets that tag their handshake, so the test can find (and cut) the connection. */
function taggedSocket(tag: string): SocketConstructor {
  return class extends WebSocket {
    constructor(url: string) {
      super(url, { headers: { 'x-test-client': tag } });
    }
  };
}

async function client(tag: string, options: { WebSocket?: SocketConstructor; pollIntervalMs?: number } = {}) {
  const token = await signToken({ sub: `u-${tag}`, role: 'specialist' });
  const c = new SwitchboardClient({
    url: e2e.rt.endpoints.websocketUrl,
    httpUrl: e2e.rt.endpoints.httpUrl,
    getToken: async () => token,
    WebSocket: options.WebSocket ?? taggedSocket(tag),
    network: null,
    reconnectBaseMs: 100,
    reconnectCapMs: 400,
    ...(options.pollIntervalMs !== undefined && { pollIntervalMs: options.pollIntervalMs }),
  });
  clients.push(c);
  const states: State[] = [];
  c.on('state', (s) => states.push(s));
  return { c, states };
}

function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (check()) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(poll);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 20);
  });
}

function subscribeAndWait(c: SwitchboardClient, channel: string): Promise<{ got: EventFrame[] }> {
  const got: EventFrame[] = [];
  return new Promise((resolve) => {
    const off = c.on('subscribed', (ch) => {
      if (ch !== channel) return;
      off();
      resolve({ got });
    });
    c.subscribe(channel, (e) => got.push(e));
  });
}

test('live events arrive in order; after the connection is cut, events published meanwhile are replayed once', async () => {
  const channel = `public_${uniqueId()}`;
  const { c, states } = await client('cut');
  const { got } = await subscribeAndWait(c, channel);
  expect(c.state).toBe('live');
  for (const n of [1, 2, 3]) await e2e.pub.publish([channel], 'update', { n }, `${channel}-${n}`);
  await until(() => got.length === 3, 'three live events');

  expect(await e2e.rt.vanish(await e2e.rt.connectionIdOf('cut'))).toBe(true);
  for (const n of [4, 5]) await e2e.pub.publish([channel], 'update', { n }, `${channel}-${n}`);
  await until(() => got.length >= 5 && states.at(-1) === 'live', 'the replay after reconnecting');
  await e2e.pub.publish([channel], 'update', { n: 6 }, `${channel}-6`);
  await until(() => got.length >= 6, 'a live event after the replay');
  await new Promise((r) => setTimeout(r, 300)); // a duplicate would show up here
  // Seq order is the contract; publish order only best effort (a standard SNS topic and ingest queue
  // may swap two publishes made back to back: docs/protocol.md), so the data is compared per phase.
  expect(got.map((e) => e.seqs[channel])).toEqual([1, 2, 3, 4, 5, 6]);
  const ns = got.map((e) => (e.data as { n: number }).n);
  expect([ns.slice(0, 3).sort((a, b) => a - b), ns.slice(3, 5).sort((a, b) => a - b), ns.slice(5)]).toEqual([
    [1, 2, 3],
    [4, 5],
    [6],
  ]);
  expect(states).toEqual(['live', 'reconnecting', 'live']);
});

test('when WebSockets cannot open, the client polls /version and fetches /events', async () => {
  const channel = `public_${uniqueId()}`;
  const blocked = class {
    onopen: (() => void) | null = null;
    onmessage: (() => void) | null = null;
    onclose: ((e: { code: number }) => void) | null = null;
    onerror: (() => void) | null = null;
    constructor() {
      setTimeout(() => this.onclose?.({ code: 1006 }), 5); // a proxy that refuses the upgrade
    }
    send(): void {}
    close(): void {}
  };
  const { c } = await client('poller', { WebSocket: blocked, pollIntervalMs: 300 });
  const { got } = await subscribeAndWait(c, channel);
  expect(c.state).toBe('polling');
  await e2e.pub.publish([channel], 'create', { booking_id: 9 }, `${channel}-a`);
  await e2e.pub.publish([channel], 'update', { booking_id: 9 }, `${channel}-b`);
  await until(() => got.length === 2, 'two polled events');
  // In seq order; which of two back-to-back publishes the sequencer takes first is best effort.
  expect(got.map((e) => e.seqs[channel])).toEqual([1, 2]);
  expect(got.map((e) => [e.id, e.event]).sort()).toEqual([
    [`${channel}-a`, 'create'],
    [`${channel}-b`, 'update'],
  ]);
});
