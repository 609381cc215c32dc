import { liveHarness, record } from './fake-socket';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe("on('subscribed'): when the app should load its state", () => {
  test('fires once per channel with the baseline seq from the first subscribed reply, not on resubscribe', async () => {
    const h = await liveHarness({ reconnectCapMs: 1000 });
    const seen: [string, number][] = [];
    h.client.on('subscribed', (channel, seq) => seen.push([channel, seq]));
    record(h.client, 'specialist_2');
    await h.tick();
    expect(seen).toEqual([]);
    h.socket().receive({ type: 'subscribed', channel: 'specialist_2', seq: 17 });
    expect(seen).toEqual([['specialist_2', 17]]);

    h.socket().drop();
    await h.tick(1000);
    h.socket().open();
    await h.tick();
    expect(h.socket().subscribes()).toEqual([expect.objectContaining({ channel: 'specialist_2', since: 17 })]);
    h.socket().receive({ type: 'subscribed', channel: 'specialist_2', seq: 17 });
    expect(seen).toEqual([['specialist_2', 17]]);
  });
});
