import { mulberry32 } from '../../local/faults';
import { mintToken, type TokenClaims } from '../../local/cli/common';
import {
  closeSubscribers,
  cpuSpent,
  openSubscribers,
  percentiles,
  problemLines,
  round,
  runtimeCpuMs,
  runId,
  sleep,
  snsPublisher,
  spawnLocal,
  type ScenarioResult,
  type Subscriber,
} from '../lib';

/**
 * The booking app end to end on the local runtime (`npm start` in a child process): 500 WebSocket
 * subscribers (2 per specialist_1..200, 3 per workpoint_1..30, 10 on admin), events published through
 * SNS at a steady rate, each to specialist_X, workpoint_Y and admin. Measures publish→receive latency
 * and checks the contract: nothing missing, no duplicates, seqs in order, nothing on the wrong socket.
 */
export interface BookingParams {
  subscribers: number;
  /** Events per second. */
  rate: number;
  seconds: number;
  /** How long to wait after the last publish for deliveries still on their way. */
  drainSeconds: number;
  connectConcurrency: number;
  /** Seed of the X/Y picks, so runs publish the same sequence. */
  seed: number;
  /** 3: specialist, workpoint and admin (a booking); 1: only one of them, picked at random. */
  channelsPerEvent: 1 | 3;
  /** SWITCHBOARD_LOCAL_FAULTS for the runtime ('' = none). */
  faults: string;
}

export const BOOKING_DEFAULTS: BookingParams = {
  subscribers: 500,
  rate: 20,
  seconds: 20,
  drainSeconds: 15,
  connectConcurrency: 50,
  seed: 1,
  channelsPerEvent: 3,
  faults: '',
};

const SPECIALISTS = 200;
const WORKPOINTS = 30;

interface Sent {
  id: string;
  n: number;
  channels: string[];
  sentAt: number;
}

interface EventFrame {
  type: 'event';
  id: string;
  data?: { sentAt?: number; n?: number };
  seqs?: Record<string, number>;
}

function parseFrame(text: string): EventFrame | undefined {
  try {
    const f = JSON.parse(text) as unknown;
    return typeof f === 'object' && f !== null ? (f as EventFrame) : undefined;
  } catch {
    return undefined;
  }
}

/** 80 % on specialist channels (round robin over 200), 18 % on workpoints (over 30), the rest admin. */
export function bookingPlan(n: number): { channel: string; claims: TokenClaims }[] {
  const spec = Math.round(n * 0.8);
  const wp = Math.round(n * 0.18);
  return Array.from({ length: n }, (_, i) => {
    if (i < spec) {
      const x = (i % SPECIALISTS) + 1;
      return { channel: `specialist_${x}`, claims: { sub: `spec-${i}`, role: 'specialist', specialist_id: String(x) } };
    }
    if (i < spec + wp) {
      const y = ((i - spec) % WORKPOINTS) + 1;
      return { channel: `workpoint_${y}`, claims: { sub: `sup-${i}`, role: 'supervisor', workpoint_id: String(y) } };
    }
    return { channel: 'admin', claims: { sub: `admin-${i}`, role: 'admin' } };
  });
}

const prng = mulberry32;

/** Each channel's current seq from GET /version (admin token, 100 channels per request). */
export async function channelVersions(
  httpUrl: string,
  adminToken: string,
  channels: string[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < channels.length; i += 100) {
    const res = await fetch(`${httpUrl}/version?channels=${channels.slice(i, i + 100).join(',')}`, {
      headers: { authorization: `Bearer ${adminToken}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`GET /version answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as { versions: Record<string, number> };
    for (const [c, v] of Object.entries(body.versions)) out.set(c, v);
  }
  return out;
}

/** Publishes `total` messages at `rate`/s without waiting for one publish before the next. */
export async function publishAtRate(
  publisher: ReturnType<typeof snsPublisher>,
  total: number,
  rate: number,
  make: (n: number, sentAt: number) => { id: string; channels: string[]; event: string; data: unknown },
): Promise<{ sent: Sent[]; publishMs: number[]; errors: string[]; lastPublishAt: number }> {
  const sent: Sent[] = [];
  const publishMs: number[] = [];
  const errors: string[] = [];
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let n = 0; n < total; n++) {
    const wait = start + (n * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    const sentAt = Date.now();
    const msg = make(n, sentAt);
    sent.push({ id: msg.id, n, channels: msg.channels, sentAt });
    inflight.push(
      publisher.publish(msg).then(
        () => void publishMs.push(Date.now() - sentAt),
        (err: unknown) => void errors.push(`${msg.id}: ${err instanceof Error ? err.message : String(err)}`),
      ),
    );
  }
  await Promise.race([Promise.all(inflight), sleep(30_000)]);
  return { sent, publishMs, errors, lastPublishAt: Date.now() };
}

/** Waits until `expected` event frames arrived in all, or the deadline passed; then a short grace for stragglers/duplicates. */
export async function drain(
  subs: Subscriber[],
  expected: number,
  deadline: number,
): Promise<{ complete: boolean; at: number }> {
  // Event frames only: presence frames (joins of the booking run's connects) must not end the wait early.
  // Counted incrementally: this runs every 50 ms in the process whose sockets are being measured.
  const scanned = subs.map(() => 0);
  let events = 0;
  const count = () => {
    subs.forEach((s, i) => {
      for (let k = scanned[i] as number; k < s.frames.length; k++)
        if ((s.frames[k] as { text: string }).text.includes('"type":"event"')) events++;
      scanned[i] = s.frames.length;
    });
    return events;
  };
  while (count() < expected && Date.now() < deadline) await sleep(50);
  const at = Date.now();
  const complete = count() >= expected;
  await sleep(500);
  return { complete, at };
}

export interface ContractCheck {
  expected: number;
  delivered: number;
  missing: number;
  duplicate: number;
  outOfOrder: number;
  wrongChannel: number;
  /** Frames that are not events of this run (errors, unknown ids, unparsable). */
  other: number;
  latenciesMs: number[];
  /** Per event: receive time of its last expected delivery (only events delivered everywhere). */
  lastReceiveAt: Map<string, number>;
  firstReceiveAt: number;
  lastReceiveAtAll: number;
}

/** A contract check as the benchmarks report it: what arrived, how fast, and what broke the contract. */
export function deliveryFigures(check: ContractCheck, spanS: number) {
  return {
    deliveries: {
      expected: check.expected,
      delivered: check.delivered,
      perSecond: round(check.delivered / spanS, 1),
      spanSeconds: round(spanS, 2),
    },
    contract: {
      missing: check.missing,
      duplicate: check.duplicate,
      outOfOrder: check.outOfOrder,
      wrongChannel: check.wrongChannel,
      otherFrames: check.other,
    },
  };
}

/**
 * Checks every frame each subscriber received against what was published: duplicates (same id
 * twice on one socket), wrong channel (none of the socket's channels among the event's), seq order
 * (per socket and channel, exactly previous + 1, starting from the channel's seq before the run),
 * and missing deliveries (an event for one of the socket's channels that never arrived).
 */
export function checkDeliveries(subs: Subscriber[], sent: Sent[], baseline: Map<string, number>): ContractCheck {
  const byId = new Map(sent.map((s) => [s.id, s]));
  const r: ContractCheck = {
    expected: 0,
    delivered: 0,
    missing: 0,
    duplicate: 0,
    outOfOrder: 0,
    wrongChannel: 0,
    other: 0,
    latenciesMs: [],
    lastReceiveAt: new Map(),
    firstReceiveAt: Infinity,
    lastReceiveAtAll: 0,
  };
  const receivedBy = new Map<string, number>(); // event id → sockets that got it
  const lastAt = new Map<string, number>();
  for (const sub of subs) {
    const seen = new Set<string>();
    const lastSeq = new Map<string, number>();
    for (const { at, text } of sub.frames) {
      const f = parseFrame(text);
      const ev = f?.type === 'event' ? byId.get(f.id) : undefined;
      if (!f || !ev) {
        r.other++;
        continue;
      }
      const mine = sub.channels.filter((c) => ev.channels.includes(c));
      const seqChannels = Object.keys(f.seqs ?? {});
      if (mine.length === 0 || seqChannels.some((c) => !sub.channels.includes(c))) {
        r.wrongChannel++;
        continue;
      }
      if (seen.has(f.id)) {
        r.duplicate++;
        continue;
      }
      seen.add(f.id);
      r.delivered++;
      receivedBy.set(f.id, (receivedBy.get(f.id) ?? 0) + 1);
      lastAt.set(f.id, Math.max(lastAt.get(f.id) ?? 0, at));
      r.firstReceiveAt = Math.min(r.firstReceiveAt, at);
      r.lastReceiveAtAll = Math.max(r.lastReceiveAtAll, at);
      if (typeof f.data?.sentAt === 'number') r.latenciesMs.push(at - f.data.sentAt);
      let inOrder = true;
      for (const c of mine) {
        const seq = f.seqs?.[c];
        const prev = lastSeq.get(c) ?? baseline.get(c) ?? 0;
        if (seq !== prev + 1) inOrder = false;
        if (typeof seq === 'number') lastSeq.set(c, Math.max(prev, seq));
      }
      if (!inOrder) r.outOfOrder++;
    }
  }
  for (const ev of sent) {
    // Each socket here holds exactly one channel, so per channel counts add up without double counting.
    const want = subs.filter((s) => s.channels.some((c) => ev.channels.includes(c))).length;
    r.expected += want;
    const got = receivedBy.get(ev.id) ?? 0;
    r.missing += Math.max(0, want - got);
    if (want > 0 && got >= want) r.lastReceiveAt.set(ev.id, lastAt.get(ev.id) as number);
  }
  return r;
}

/** Expected deliveries for a set of events (a socket counts once per event). */
export function expectedDeliveries(subs: Subscriber[], channelsPerEvent: string[][]): number {
  let total = 0;
  for (const chs of channelsPerEvent) total += subs.filter((s) => s.channels.some((c) => chs.includes(c))).length;
  return total;
}

export async function runBooking(p: BookingParams = BOOKING_DEFAULTS): Promise<ScenarioResult> {
  const run = runId();
  const rt = await spawnLocal({
    quiet: true,
    env: p.faults ? { SWITCHBOARD_LOCAL_FAULTS: p.faults, SWITCHBOARD_LOCAL_SEED: String(p.seed) } : {},
  });
  const publisher = snsPublisher(rt.endpoints);
  let subs: Subscriber[] = [];
  try {
    const plan = bookingPlan(p.subscribers);
    const secret = rt.endpoints.jwtSecret;
    const tokens = await Promise.all(plan.map((s) => mintToken(s.claims, secret)));
    const cpuBefore = runtimeCpuMs(rt);
    const connectStart = performance.now();
    subs = await openSubscribers(
      rt.endpoints.websocketUrl,
      plan.map((s, i) => ({ token: tokens[i] as string, channels: [s.channel] })),
      p.connectConcurrency,
    );
    const connectMs = performance.now() - connectStart;
    const connectCpu = cpuSpent(cpuBefore, runtimeCpuMs(rt));

    const adminToken = await mintToken({ sub: 'bench-admin', role: 'admin' }, secret);
    const allChannels = [
      ...Array.from({ length: SPECIALISTS }, (_, i) => `specialist_${i + 1}`),
      ...Array.from({ length: WORKPOINTS }, (_, i) => `workpoint_${i + 1}`),
      'admin',
    ];
    const baseline = await channelVersions(rt.endpoints.httpUrl, adminToken, allChannels);

    const random = prng(p.seed);
    const total = Math.round(p.rate * p.seconds);
    const pick = (k: number) => Math.floor(random() * k) + 1;
    const channelsOf = Array.from({ length: total }, () => {
      const all = [`specialist_${pick(SPECIALISTS)}`, `workpoint_${pick(WORKPOINTS)}`, 'admin'];
      return p.channelsPerEvent === 3 ? all : [all[pick(3) - 1] as string];
    });
    const expected = expectedDeliveries(subs, channelsOf);

    const firstPublishAt = Date.now();
    const pub = await publishAtRate(publisher, total, p.rate, (n, sentAt) => ({
      id: `booking-${run}-${n}`,
      channels: channelsOf[n] as string[],
      event: 'update',
      data: { sentAt, n },
    }));
    const drained = await drain(subs, expected, pub.lastPublishAt + p.drainSeconds * 1000);
    const check = checkDeliveries(subs, pub.sent, baseline);

    const lat = percentiles(check.latenciesMs);
    const spanS = (check.lastReceiveAtAll - firstPublishAt) / 1000;
    // Latency by when the event was published: a growing p50 means a queue is building up.
    const windows: Record<string, unknown>[] = [];
    const windowS = Math.max(1, Math.round(p.seconds / 4));
    for (let w = 0; w * windowS < p.seconds; w++) {
      const ids = new Set(
        pub.sent
          .filter(
            (s) =>
              s.sentAt - firstPublishAt >= w * windowS * 1000 && s.sentAt - firstPublishAt < (w + 1) * windowS * 1000,
          )
          .map((s) => s.id),
      );
      const inWindow: number[] = [];
      for (const sub of subs)
        for (const { at, text } of sub.frames) {
          const f = parseFrame(text);
          if (f && ids.has(f.id) && typeof f.data?.sentAt === 'number') inWindow.push(at - f.data.sentAt);
        }
      const q = percentiles(inWindow);
      windows.push({ publishedFromS: w * windowS, toS: (w + 1) * windowS, p50: q.p50, p95: q.p95, max: q.max });
    }
    const pubMs = percentiles(pub.publishMs);
    const figures = {
      connect: {
        sockets: subs.length,
        ms: round(connectMs),
        perSecond: round(subs.length / (connectMs / 1000), 1),
        // CPU the runtime's processes spent on the connects: what bounds them on a small machine.
        cpuMs: connectCpu,
        cpuMsPerConnect: Object.fromEntries(
          Object.entries(connectCpu).map(([k, v]) => [k, round(v / Math.max(1, subs.length), 2)]),
        ),
      },
      events: {
        published: pub.sent.length,
        publishErrors: pub.errors.length,
        firstErrors: pub.errors.slice(0, 5),
        snsPublishMs: { p50: pubMs.p50, p95: pubMs.p95, max: pubMs.max },
      },
      latencyMs: { p50: lat.p50, p95: lat.p95, p99: lat.p99, max: lat.max, min: lat.min },
      latencyByPublishWindow: windows,
      ...deliveryFigures(check, spanS),
      drain: {
        completeBeforeDeadline: drained.complete,
        lastDeliveryAfterLastPublishMs: check.lastReceiveAtAll ? check.lastReceiveAtAll - pub.lastPublishAt : null,
      },
      runtimeProblems: problemLines(rt.output()),
    };
    return {
      scenario: 'booking',
      summary:
        `booking: ${subs.length} subscribers, ${pub.sent.length} events at ${p.rate}/s → ${check.delivered}/${check.expected} deliveries ` +
        `(${figures.deliveries.perSecond}/s); latency p50 ${lat.p50} ms, p95 ${lat.p95} ms, p99 ${lat.p99} ms, max ${lat.max} ms; ` +
        `missing ${check.missing}, duplicate ${check.duplicate}, out-of-order ${check.outOfOrder}, wrong-channel ${check.wrongChannel}`,
      parameters: { ...p },
      figures,
    };
  } finally {
    await closeSubscribers(subs);
    publisher.destroy();
    await rt.stop();
  }
}
