import { SwitchboardClient, type State, type SwitchboardOptions } from '../../client/src';
import type { SocketLike } from '../../client/src/connection';
import type { EventFrame } from '../../client/src/frames';

type Frame = Record<string, unknown>;

/** A WebSocket stand-in: records what the client sends; the test plays the server (open, receive, drop). */
export class FakeSocket implements SocketLike {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly sent: Frame[] = [];
  closedWith: { code?: number; reason?: string } | undefined;
  /** Answers each ping with a pong, like the server; heartbeat tests turn it off. */
  autoPong = true;

  constructor(readonly url: string) {}

  send(data: string): void {
    const frame = JSON.parse(data) as Frame;
    this.sent.push(frame);
    if (frame.action === 'ping' && this.autoPong) this.receive({ type: 'pong', ts: Date.now() });
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
  }

  // ---- the server's side ----
  open(): void {
    this.onopen?.({});
  }

  receive(frame: Frame | EventFrame): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** The handshake fails or the connection drops: an error event, then close (as browsers do). */
  drop(code = 1006): void {
    this.onerror?.({});
    this.onclose?.({ code });
  }

  /** Keeps failure messages short (jest would print the handlers and everything they reach). */
  toJSON(): unknown {
    return { url: this.url, sent: this.sent, closedWith: this.closedWith };
  }

  subscribes(): Frame[] {
    return this.sent.filter((f) => f.action === 'subscribe');
  }
}

export function event(id: string, seqs: Record<string, number>, data: unknown = null): EventFrame {
  const channel = Object.keys(seqs)[0] ?? '';
  return { type: 'event', id, event: 'update', data, ts: 1_763_855_000_000, channel, seqs };
}

/** Clients made by `harness`, closed after each test: a test that fails midway must not leave one reconnecting on real timers. */
const clients: SwitchboardClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

export interface Harness {
  client: SwitchboardClient;
  sockets: FakeSocket[];
  states: State[];
  /** The most recently created socket. */
  socket(): FakeSocket;
  /** Runs timers `ms` ahead and lets promises (token, fetch) settle. */
  tick(ms?: number): Promise<void>;
}

/** A client on fake sockets, fake timers (the caller runs jest.useFakeTimers()), no network, and a fixed jitter of 0.5. */
export async function harness(options: Partial<SwitchboardOptions> = {}): Promise<Harness> {
  const sockets: FakeSocket[] = [];
  class Socket extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  const client = new SwitchboardClient({
    url: 'wss://ws.example.test/prod',
    httpUrl: 'https://api.example.test/',
    getToken: async () => 'tok',
    WebSocket: Socket,
    fetch: () => Promise.reject(new Error('no HTTP in this test')), // never the network, even when a test ends up polling
    random: () => 0.5,
    network: null,
    ...options,
  });
  clients.push(client);
  const states: State[] = [];
  client.on('state', (s) => states.push(s));
  const tick = (ms = 0): Promise<void> => jest.advanceTimersByTimeAsync(ms);
  await tick();
  return {
    client,
    sockets,
    states,
    tick,
    socket: () => {
      const s = sockets[sockets.length - 1];
      if (!s) throw new Error('no socket was created');
      return s;
    },
  };
}

/** A harness whose first socket is open (state live). */
export async function liveHarness(options: Partial<SwitchboardOptions> = {}): Promise<Harness> {
  const h = await harness(options);
  h.socket().open();
  return h;
}

/** Subscribes a recording handler. */
export function record(
  client: SwitchboardClient,
  channel: string,
): { ids: string[]; frames: EventFrame[]; off: () => void } {
  const ids: string[] = [];
  const frames: EventFrame[] = [];
  const off = client.subscribe(channel, (e, ch) => {
    expect(ch).toBe(channel);
    ids.push(e.id);
    frames.push(e);
  });
  return { ids, frames, off };
}
