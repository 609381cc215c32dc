import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import type { LocalEndpoints } from '../local/runtime';
import { mapWithLimit } from '../shared/concurrency';

/** Shared helpers for benchmark scenarios: percentiles, machine facts, result files. */
export function percentiles(values: number[]): {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  min: number;
  count: number;
} {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? (s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number) : NaN);
  return { count: s.length, min: s[0] ?? NaN, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: s[s.length - 1] ?? NaN };
}

export function machine(): Record<string, unknown> {
  return {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
  };
}

export interface ScenarioResult {
  scenario: string;
  summary: string;
  parameters: Record<string, unknown>;
  figures: unknown;
}

export function writeResult(result: ScenarioResult, dir = path.join(__dirname, 'results')): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${result.scenario}.json`);
  fs.writeFileSync(
    file,
    `${JSON.stringify({ ...result, machine: machine(), at: new Date().toISOString() }, null, 2)}\n`,
  );
  return file;
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** `--name value` flags after the scenario name. */
export function flags(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a.startsWith('--')) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        out[a.slice(2)] = next;
        i++;
      } else out[a.slice(2)] = 'true';
    }
  }
  return out;
}

export const numList = (v: string | undefined, def: number[]): number[] =>
  v
    ? v
        .split(',')
        .map(Number)
        .filter((n) => Number.isFinite(n) && n > 0)
    : def;

// ---- Local runtime in a child process, WebSocket subscribers, publishing (booking, broadcast, startup) ----

const REPO_ROOT = path.join(__dirname, '..');

export interface LocalProcess {
  child: ChildProcess;
  endpoints: LocalEndpoints;
  /** Spawn → the endpoints file exists (written once everything listens and the table exists). */
  fileMs: number;
  /** Spawn → the banner's "is ready" line (only without `quiet`). */
  bannerMs: number | undefined;
  /** The runtime's own figure from the banner ("ready (3.2 s)"), ms since its process started. */
  selfReportedMs: number | undefined;
  /** stdout + stderr so far (last 50 000 characters). */
  output(): string;
  /** SIGTERM, then waits for exit (SIGKILL after `timeoutMs`); resolves with the time it took. */
  stop(timeoutMs?: number): Promise<{ ms: number; code: number | null; killed: boolean }>;
}

/**
 * `node --import tsx local/start.ts` (what `npm start` runs) on free ports, its own in-memory
 * DynamoDB Local, endpoints in a temp file. The clients stay in this process, the handlers in the
 * child: they do not share an event loop.
 */
export async function spawnLocal(
  opts: { quiet?: boolean; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<LocalProcess> {
  const timeoutMs = opts.timeoutMs ?? 90_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-'));
  const file = path.join(dir, 'endpoints.json');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HTTP_PORT: '0',
    WS_PORT: '0',
    SNS_PORT: '0',
    DYNAMODB_PORT: '0',
    SWITCHBOARD_LOCAL_ENDPOINTS_FILE: file,
    POWERTOOLS_LOG_LEVEL: process.env.BENCH_RUNTIME_LOG ? 'INFO' : 'WARN',
    ...opts.env,
  };
  delete env.SWITCHBOARD_LOCAL_DYNAMODB_ENDPOINT;
  delete env.SWITCHBOARD_TABLE_NAME;
  delete env.SWITCHBOARD_LOCAL_TEST_HOOKS;
  const t0 = performance.now();
  // BENCH_RUNTIME_NODE_ARGS: extra node flags for the runtime only (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
  const nodeArgs = (process.env.BENCH_RUNTIME_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', 'local/start.ts', ...(opts.quiet ? ['--quiet'] : [])],
    { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let bannerMs: number | undefined;
  // BENCH_RUNTIME_LOG=<file>: the runtime's output goes there too, at log level INFO (every
  // invocation's summary line: where the time of a run went).
  const logFile = process.env.BENCH_RUNTIME_LOG;
  if (logFile)
    for (const s of [child.stdout, child.stderr]) s?.on('data', (d: Buffer) => fs.appendFileSync(logFile, d));
  child.stdout?.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-50_000);
    if (bannerMs === undefined && out.includes('is ready')) bannerMs = performance.now() - t0;
  });
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-50_000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));

  let fileMs: number | undefined;
  const deadline = t0 + timeoutMs;
  try {
    while (fileMs === undefined || (!opts.quiet && bannerMs === undefined)) {
      if (exitCode !== undefined)
        throw new Error(`the local runtime exited (code ${exitCode}) before it was ready:\n${out.slice(-3000)}`);
      if (performance.now() > deadline)
        throw new Error(`the local runtime was not ready in ${timeoutMs} ms:\n${out.slice(-3000)}`);
      if (fileMs === undefined && fs.existsSync(file)) fileMs = performance.now() - t0;
      await sleep(5);
    }
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const endpoints = JSON.parse(fs.readFileSync(file, 'utf8')) as LocalEndpoints;
  const self = /is ready \((\d+(?:\.\d+)?) s\)/.exec(out);
  return {
    child,
    endpoints,
    fileMs,
    bannerMs,
    selfReportedMs: self ? Number(self[1]) * 1000 : undefined,
    output: () => out,
    async stop(stopTimeoutMs = 20_000) {
      const start = performance.now();
      let killed = false;
      if (exitCode === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          killed = true;
          child.kill('SIGKILL');
        }, stopTimeoutMs);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
      return { ms: performance.now() - start, code: exitCode ?? null, killed };
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Lines of the runtime's output that are warnings or errors (handler JSON logs, `[local]` lines). */
export function problemLines(output: string, max = 20): string[] {
  return output
    .split('\n')
    .filter((l) => /"level":"(WARN|ERROR)"|\[local\].*(warn|fail)|failed|error/i.test(l))
    .slice(0, max)
    .map((l) => l.slice(0, 400));
}

/** A subscriber: one socket, the channel(s) it subscribed to at connect, what it received. */
export interface Subscriber {
  index: number;
  channels: string[];
  ws: WebSocket;
  /** Every text frame as received, with Date.now() at receipt. */
  frames: { at: number; text: string }[];
}

/**
 * Opens one socket per spec with `?token=…&channels=…` (subscribed by `$connect`, before the
 * handshake completes), `concurrency` handshakes at a time. Throws on the first failed handshake.
 */
export async function openSubscribers(
  websocketUrl: string,
  specs: { token: string; channels: string[] }[],
  concurrency = 100,
  connectTimeoutMs = 30_000,
): Promise<Subscriber[]> {
  const subs: Subscriber[] = [];
  const open = async (spec: { token: string; channels: string[] }, index: number): Promise<void> => {
    const url = `${websocketUrl}?token=${encodeURIComponent(spec.token)}&channels=${spec.channels.map(encodeURIComponent).join(',')}`;
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: connectTimeoutMs });
    const sub: Subscriber = { index, channels: spec.channels, ws, frames: [] };
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (!isBinary) sub.frames.push({ at: Date.now(), text: (data as Buffer).toString() }); // binaryType "nodebuffer": text frames arrive as one Buffer
    });
    subs.push(sub);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (req, res) => {
        req.destroy();
        reject(new Error(`handshake ${index} answered HTTP ${res.statusCode}`));
      });
      // Stays attached: a later socket error must not become an unhandled 'error' event.
      ws.on('error', (err) => reject(new Error(`socket ${index}: ${err.message}`)));
    });
  };
  try {
    await mapWithLimit(specs, concurrency, open);
  } catch (err) {
    await closeSubscribers(subs);
    throw err;
  }
  return subs.sort((a, b) => a.index - b.index);
}

/** Closes every socket and waits (bounded) until each reports closed. */
export async function closeSubscribers(subs: Subscriber[], timeoutMs = 10_000): Promise<void> {
  const closed = subs.map(
    ({ ws }) =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.once('error', () => resolve());
        if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
        else ws.close(1000, 'bench done');
      }),
  );
  await Promise.race([Promise.all(closed), sleep(timeoutMs)]);
  for (const { ws } of subs) if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
}

/** An SNS publisher for the local emulator (dummy credentials, protocol §4 messages). */
export function snsPublisher(endpoints: Pick<LocalEndpoints, 'snsEndpoint' | 'region' | 'topicArn'>): {
  publish(message: object): Promise<void>;
  destroy(): void;
} {
  const sns = new SNSClient({
    endpoint: endpoints.snsEndpoint,
    region: endpoints.region,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  return {
    async publish(message) {
      await sns.send(new PublishCommand({ TopicArn: endpoints.topicArn, Message: JSON.stringify(message) }));
    },
    destroy: () => sns.destroy(),
  };
}

/** A run-unique prefix for event ids (idempotency keys must not repeat across runs). */
export const runId = (): string => randomUUID().slice(0, 8);

/**
 * CPU time (ms, user + system) used so far by the runtime's processes: the `npm start` process
 * (handlers, gateway thread), DynamoDB Local's JVM and the SQS emulator. Linux only (/proc); the
 * figure is undefined where a process cannot be found. Take two readings and subtract.
 */
export function runtimeCpuMs(rt: LocalProcess): { runtime?: number; dynamodb?: number; sqs?: number } {
  const ticks = (pid: number | undefined): number | undefined => {
    if (!pid) return undefined;
    try {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms (USER_HZ 100)
    } catch {
      return undefined;
    }
  };
  const pgrep = (args: string[]): number | undefined => {
    try {
      return Number(execFileSync('pgrep', args, { encoding: 'utf8' }).trim().split('\n')[0]) || undefined;
    } catch {
      return undefined;
    }
  };
  const port = new URL(rt.endpoints.dynamodbEndpoint).port;
  return {
    runtime: ticks(rt.child.pid),
    dynamodb: ticks(pgrep(['-n', '-f', `^java .*-port ${port}( |$)`])),
    sqs: ticks(pgrep(['-n', '-P', String(rt.child.pid), '-f', 'fauxqs-main'])),
  };
}

/** `after - before` per process, where both are known. */
export function cpuSpent(
  before: ReturnType<typeof runtimeCpuMs>,
  after: ReturnType<typeof runtimeCpuMs>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of ['runtime', 'dynamodb', 'sqs'] as const) {
    const [a, b] = [before[k], after[k]];
    if (a !== undefined && b !== undefined) out[k] = b - a;
  }
  return out;
}
