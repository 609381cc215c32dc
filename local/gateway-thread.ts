import path from 'node:path';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import type { FunctionName } from '../shared/routes';
import type { Faults } from './faults';
import type { LocalLog } from './log';
import { PortInUseError } from './ports';
import type { GatewayEvent, WsGateway } from './ws-gateway';

/**
 * The WebSocket gateway of `npm start` in a worker thread (local/gateway-thread-main.ts), with the
 * functions its routes invoke: API Gateway and those Lambda functions run beside the pipeline
 * (sequencer, deliver, fauxqs in its own process, DynamoDB Local's JVM) instead of sharing one event
 * loop with it, so a 2-core machine uses both cores. Nothing about how it behaves changes: the same
 * gateway code, the same handlers, each through local/lambda-invoker.ts with its timeout. The thread
 * shares `process.env` with the host (SHARE_ENV), so the handler environment the runtime sets
 * reaches it; its handlers wait until `open()`.
 *
 * Faults: the thread rolls `post_*` with its own seeded sequence, seeded from the runtime's (so a
 * seed still repeats a run; which roll lands on which request depends on timing, as before).
 */
export interface GatewayThreadData {
  port: number;
  host?: string;
  idleTimeoutMs?: number;
  maxAgeMs?: number;
  faultSpec: string;
  faultSeed: number;
}

export type HostMessage =
  | { type: 'open' }
  | { type: 'vanish'; id: number; connectionId: string }
  | { type: 'settle'; id: number }
  | { type: 'count'; id: number }
  | { type: 'stop'; id: number };

export type ThreadMessage =
  | { type: 'listening'; port: number; url: string; managementEndpoint: string; routes: Record<string, FunctionName> }
  | { type: 'failed'; name: string; message: string; port?: number; envName?: string }
  | { type: 'event'; event: GatewayEvent }
  | { type: 'log'; level: 'debug' | 'warn'; line: string }
  | { type: 'reply'; id: number; value: unknown };

/** The gateway in its thread: the same addresses as a WsGateway, its calls answered over messages. */
export interface GatewayThread extends Pick<WsGateway, 'port' | 'url' | 'managementEndpoint' | 'routes'> {
  /** Lets the gateway's handlers run (their environment is set). */
  open(): void;
  connectionCount(): Promise<number>;
  /** Test hook: drop a connection without `$disconnect` (ws-gateway.ts `vanish`). */
  vanish(connectionId: string): Promise<boolean>;
  /** Resolves when every `$disconnect` started so far has finished. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

export interface GatewayThreadOptions {
  port: number;
  host?: string;
  idleTimeoutMs?: number;
  maxAgeMs?: number;
  faults: Faults;
  onEvent?: (e: GatewayEvent) => void;
  log?: LocalLog;
  /** The thread died (an uncaught error): the gateway is gone. */
  onFatal?: (message: string) => void;
}

export async function startGatewayThread(opts: GatewayThreadOptions): Promise<GatewayThread> {
  const log = opts.log ?? (() => undefined);
  const ts = __filename.endsWith('.ts');
  const main = path.join(__dirname, ts ? 'gateway-thread-main.ts' : 'gateway-thread-main.js');
  const data: GatewayThreadData = {
    port: opts.port,
    host: opts.host,
    idleTimeoutMs: opts.idleTimeoutMs,
    maxAgeMs: opts.maxAgeMs,
    faultSpec: Object.entries(opts.faults.active)
      .map(([name, p]) => `${name}=${p}`)
      .join(','),
    faultSeed: Math.floor(opts.faults.random() * 2 ** 31),
  };
  // Worker threads do not inherit `--import tsx`: under tsx the entry registers it first.
  const worker = ts
    ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(main)});`, {
        eval: true,
        env: SHARE_ENV,
        workerData: data,
      })
    : new Worker(main, { env: SHARE_ENV, workerData: data });
  let nextId = 0;
  const waiting = new Map<number, (value: unknown) => void>();
  let stopping = false;
  const request = (
    m: { type: 'vanish'; connectionId: string } | { type: 'settle' } | { type: 'count' } | { type: 'stop' },
  ): Promise<unknown> =>
    new Promise((resolve) => {
      const id = ++nextId;
      waiting.set(id, resolve);
      worker.postMessage({ ...m, id });
    });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const listening = await new Promise<Extract<ThreadMessage, { type: 'listening' }>>((resolve, reject) => {
    worker.on('message', (m: ThreadMessage) => {
      if (m.type === 'listening') resolve(m);
      else if (m.type === 'failed')
        reject(
          m.name === 'PortInUseError' && m.port !== undefined && m.envName
            ? new PortInUseError(m.port, m.envName)
            : Object.assign(new Error(m.message), { name: m.name }),
        );
      else if (m.type === 'event') opts.onEvent?.(m.event);
      else if (m.type === 'log') log(m.level, m.line);
      else if (m.type === 'reply') {
        waiting.get(m.id)?.(m.value);
        waiting.delete(m.id);
      }
    });
    worker.on('error', (err) => {
      reject(err);
      if (!stopping) opts.onFatal?.(`the WebSocket gateway failed: ${err.message}`);
    });
    void exited.then(() => reject(new Error('the WebSocket gateway thread exited before it listened')));
  }).catch(async (err: unknown) => {
    await worker.terminate();
    throw err;
  });
  return {
    port: listening.port,
    url: listening.url,
    managementEndpoint: listening.managementEndpoint,
    routes: listening.routes,
    open: () => worker.postMessage({ type: 'open' } satisfies HostMessage),
    connectionCount: async () => (await request({ type: 'count' })) as number,
    vanish: async (connectionId) => (await request({ type: 'vanish', connectionId })) === true,
    settled: async () => void (await request({ type: 'settle' })),
    async stop() {
      if (stopping) return;
      stopping = true;
      await Promise.race([request({ type: 'stop' }), exited]);
      await worker.terminate();
    },
  };
}
