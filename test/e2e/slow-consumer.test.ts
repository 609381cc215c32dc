import WebSocket from 'ws';
import { runtimeForFile } from '../helpers/e2e';
import { signToken } from '../helpers/runtime';

/**
 * A connection that stops reading (protocol §3): its buffer fills, the gateway answers 429, and the
 * pipeline retries it for a bounded time and then skips it — without holding up anyone else. One
 * paused reader among 20 healthy ones, 500 events of 16 KB at 50/s: every healthy client has every
 * event, in order, before the paused one reads again; resumed, it recovers the rest with `since`.
 */
const EVENTS = 500;
const RATE = 50;
const sockets: WebSocket[] = [];
// History long enough for the paused reader to recover all 500 (the default keeps 100).
const e2e = runtimeForFile(
  { SWITCHBOARD_RETAIN_EVENTS: '1000' },
  {
    beforeStop: () => {
      for (const s of sockets) s.terminate();
    },
  },
);

interface Reader {
  ws: WebSocket;
  seqs: number[];
  ids: Map<number, string>;
  arrived: number[];
  waiters: (() => void)[];
}

async function reader(channel: string): Promise<Reader> {
  const ws = new WebSocket(`${e2e.rt.endpoints.websocketUrl}?token=${await signToken({ sub: `r-${sockets.length}` })}`);
  sockets.push(ws);
  const r: Reader = { ws, seqs: [], ids: new Map(), arrived: [], waiters: [] };
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  const subscribed = new Promise<void>((resolve) => {
    ws.on('message', (d) => {
      const f = JSON.parse((d as Buffer).toString()) as {
        type: string;
        seqs?: Record<string, number>;
        id?: string;
        channel?: string;
      };
      if (f.type === 'subscribed' && f.channel === channel) resolve();
      if (f.type === 'event' && f.seqs?.[channel] !== undefined) {
        const seq = f.seqs[channel];
        if (!r.ids.has(seq)) r.seqs.push(seq);
        r.ids.set(seq, f.id as string);
        r.arrived.push(Date.now());
      }
      r.waiters.splice(0).forEach((w) => w());
    });
  });
  ws.send(JSON.stringify({ action: 'subscribe', channel }));
  await subscribed;
  return r;
}

const until = (r: Reader, pred: () => boolean) =>
  new Promise<void>((resolve) => {
    const check = () => (pred() ? resolve() : r.waiters.push(check));
    check();
  });

test('a paused reader holds up nobody and recovers everything with since', async () => {
  const channel = `public_slow_${Date.now()}`;
  const healthy = await Promise.all(Array.from({ length: 20 }, () => reader(channel)));
  const paused = await reader(channel);
  (paused.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();

  const sentAt = new Map<string, number>();
  const data = { pad: 'x'.repeat(16 * 1024 - 64) };
  for (let i = 0; i < EVENTS; i++) {
    const id = `slow-${i}`;
    sentAt.set(id, Date.now());
    void e2e.pub.publish([channel], 'tick', { i, ...data }, id);
    await new Promise((r) => setTimeout(r, 1000 / RATE));
  }

  // Every healthy reader gets all 500, in seq order, while the paused one still reads nothing.
  await Promise.all(healthy.map((h) => until(h, () => h.ids.size >= EVENTS)));
  for (const h of healthy) expect(h.seqs).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
  expect(e2e.rt.events.some((e) => e.type === 'fault')).toBe(false); // the 429s came from the full buffer, not from a fault knob
  const latencies = healthy
    .flatMap((h) => h.seqs.map((seq, k) => (h.arrived[k] as number) - (sentAt.get(h.ids.get(seq) as string) as number)))
    .sort((a, b) => a - b);
  process.stdout.write(
    `slow consumer: healthy p50 ${latencies[Math.floor(latencies.length / 2)]} ms, p99 ${latencies[Math.floor(latencies.length * 0.99)]} ms\n`,
  );

  // Resumed: what was buffered arrives in order; pong's seqs show what is missing; since fills it.
  (paused.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  const pong = new Promise<Record<string, number>>((resolve) =>
    paused.ws.on('message', (d) => {
      const f = JSON.parse((d as Buffer).toString()) as { type: string; seqs: Record<string, number> };
      if (f.type === 'pong') resolve(f.seqs);
    }),
  );
  paused.ws.send(JSON.stringify({ action: 'ping' }));
  expect(await pong).toEqual({ [channel]: EVENTS });
  const live = [...paused.seqs];
  expect(live).toEqual([...live].sort((a, b) => a - b));
  expect(live.length).toBeLessThan(EVENTS); // it did miss some: the pipeline skipped it
  let contiguous = 0;
  while (paused.ids.has(contiguous + 1)) contiguous++;
  paused.ws.send(JSON.stringify({ action: 'subscribe', channel, since: contiguous }));
  await until(paused, () => paused.ids.size >= EVENTS);
  // Each seq with the same event every healthy reader had for it.
  const reference = healthy[0] as Reader;
  for (let seq = 1; seq <= EVENTS; seq++)
    expect({ seq, id: paused.ids.get(seq) }).toEqual({ seq, id: reference.ids.get(seq) });
  expect(new Set(paused.ids.values())).toEqual(new Set(sentAt.keys()));
}, 240_000);
