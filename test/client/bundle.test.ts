import { build } from 'esbuild';
import path from 'node:path';
import { common } from '../../client/build';
import type * as Api from '../../client/src';
import { event, FakeSocket } from './fake-socket';
import { FakeBrowser } from './fake-tabs';

/**
 * The other client tests run the TypeScript source; this one runs the bundle as `npm run build:client`
 * makes it (minified, internal `_` members shortened), so a build setting that breaks the client is
 * caught here: events and a gap recovered from pong seqs, presence across a reconnect, two tabs on
 * one shared connection.
 */
let Switchboard: typeof Api;
beforeAll(async () => {
  const r = await build({ ...common, format: 'iife', globalName: 'Switchboard', write: false });
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- runs the built IIFE bundle as a <script> tag would
  Switchboard = new Function(`${r.outputFiles?.[0]?.text ?? ''}; return Switchboard;`)() as typeof Api;
});
beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

const tick = (ms = 0) => jest.advanceTimersByTimeAsync(ms);

function client(sockets: FakeSocket[], extra: Partial<Api.SwitchboardOptions> = {}): Api.SwitchboardClient {
  class Socket extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return new Switchboard.SwitchboardClient({
    url: 'wss://ws.example.test/prod',
    httpUrl: 'https://api.example.test',
    getToken: async () => 'tok',
    WebSocket: Socket,
    fetch: () => Promise.reject(new Error('no HTTP here')),
    random: () => 0.5,
    network: null,
    ...extra,
  });
}

test('the built bundle: events in order, a gap from pong seqs recovered, presence kept across a reconnect', async () => {
  const sockets: FakeSocket[] = [];
  const c = client(sockets, { pingIntervalMs: 60_000 });
  await tick();
  const s = sockets[0] as FakeSocket;
  s.open();
  const ids: string[] = [];
  c.subscribe('admin', (e) => ids.push(e.id));
  s.receive({ type: 'subscribed', channel: 'admin', seq: 1, id: 'admin' });
  s.receive(event('e2', { admin: 2 }));
  s.autoPong = false;
  await tick(60_000);
  s.receive({ type: 'pong', ts: Date.now(), seqs: { admin: 3 } });
  await tick(1000);
  expect(s.subscribes().at(-1)).toEqual({ action: 'subscribe', channel: 'admin', since: 2, id: 'admin' });
  s.receive(event('e3', { admin: 3 }));
  expect(ids).toEqual(['e2', 'e3']);

  const asked = c.presence('admin');
  s.receive({ type: 'presence', channel: 'admin', members: [{ sub: 'adm' }], occupancy: 1, id: '?admin' });
  await expect(asked).resolves.toEqual({ members: [{ sub: 'adm' }], occupancy: 1 });
  const joined: string[] = [];
  c.on('join', (_, m) => joined.push(m.sub));
  s.receive({ type: 'join', channel: 'admin', member: { sub: 'spec-2' } });
  expect(joined).toEqual(['spec-2']);
  expect(c.members('admin').map((m) => m.sub)).toEqual(['adm', 'spec-2']);
  s.drop();
  await tick(250);
  const again = sockets.at(-1) as FakeSocket;
  again.open();
  expect(again.sent.filter((f) => f.action === 'presence')).toEqual([
    { action: 'presence', channel: 'admin', id: '?admin' },
  ]);
  again.receive({ type: 'presence', channel: 'admin', members: [{ sub: 'adm' }], occupancy: 1, id: '?admin' });
  expect(c.members('admin').map((m) => m.sub)).toEqual(['adm']);
  c.close();
});

test('the built bundle: two tabs share one connection; each gets its events, a follower its presence answer', async () => {
  const browser = new FakeBrowser();
  const sockets: FakeSocket[] = [];
  const tabs = [browser.tab(), browser.tab()].map((tab) =>
    client(sockets, { share: { key: 'u1', locks: tab.locks, BroadcastChannel: tab.BroadcastChannel } }),
  );
  await tick();
  expect(sockets).toHaveLength(1);
  const s = sockets[0] as FakeSocket;
  s.open();
  await tick();
  expect(tabs.map((t) => t.state)).toEqual(['live', 'live']);
  const got: string[][] = [[], []];
  tabs.forEach((t, i) => t.subscribe('admin', (e) => got[i]?.push(e.id)));
  await tick();
  for (const f of s.subscribes()) s.receive({ type: 'subscribed', channel: 'admin', seq: 0, id: f.id });
  s.receive(event('e1', { admin: 1 }));
  const asked = (tabs[1] as Api.SwitchboardClient).presence('admin');
  await tick();
  s.receive({ type: 'presence', channel: 'admin', members: [{ sub: 'u1' }], occupancy: 1, id: '?admin' });
  await expect(asked).resolves.toEqual({ members: [{ sub: 'u1' }], occupancy: 1 });
  expect(got).toEqual([['e1'], ['e1']]);
  for (const t of tabs) t.close();
});

test('the bundle carries no server code: every input is under client/src or is the wire contract (shared/wire.ts)', async () => {
  const r = await build({ ...common, format: 'esm', write: false, metafile: true });
  const root = path.resolve(__dirname, '../..');
  const inputs = Object.keys(r.metafile.inputs).map((f) =>
    path.relative(root, path.resolve(process.cwd(), f)).split(path.sep).join('/'),
  );
  expect(inputs).toContain('shared/wire.ts');
  expect(inputs.filter((f) => !f.startsWith('client/src/') && f !== 'shared/wire.ts')).toEqual([]);
});
