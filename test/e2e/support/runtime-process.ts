import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { LocalEndpoints, RuntimeEvent } from '../../../local/runtime';
import { REPO_ROOT, sharedDynamoEnv, startEnv } from '../../helpers/local-start';

/**
 * The local runtime as the e2e tests use it: `local/start.ts` in a child process (fauxqs is
 * ESM-only and cannot load inside jest's CommonJS runtime), on free ports, against the DynamoDB
 * Local that jest's global setup started (a table of its own), with the test hooks on. Readiness and
 * every gateway/bridge event arrive over IPC, so tests wait for events, never for time.
 */
export { REPO_ROOT };

export interface RuntimeProcess {
  endpoints: LocalEndpoints;
  dlqUrl: string;
  /** The dead-letter queues of the ingest, order and delivery queues. */
  dlqUrls: string[];
  /** The ingest, order and delivery queues. */
  queueUrls: string[];
  routes: Record<string, string>;
  readyMs: number;
  events: RuntimeEvent[];
  /** Resolves with the first event (already seen or future) that matches. */
  waitForEvent<E extends RuntimeEvent = RuntimeEvent>(
    pred: (e: RuntimeEvent) => boolean,
    timeoutMs?: number,
    what?: string,
  ): Promise<E>;
  /** The connection id of the client that connected with `x-test-client: <tag>`. */
  connectionIdOf(tag: string, timeoutMs?: number): Promise<string>;
  /** Drops a connection without `$disconnect` (AWS losing a disconnect). */
  vanish(connectionId: string): Promise<boolean>;
  /** Makes the next `times` fanout invocations throw. */
  failFanout(times: number): Promise<void>;
  /** Waits until every `$disconnect` started so far has run. */
  settle(): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

/** What the child reports when it is ready (local/start.ts with the test hooks). */
type ReadyMessage = { type: 'ready' } & Pick<
  RuntimeProcess,
  'endpoints' | 'dlqUrl' | 'dlqUrls' | 'queueUrls' | 'routes' | 'readyMs'
>;
type ChildMessage =
  ReadyMessage | { type: 'event'; event: RuntimeEvent } | { type: 'reply'; requestId: number; ok: boolean };

export async function startRuntimeProcess(
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<RuntimeProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts', '--quiet'], {
    cwd: REPO_ROOT,
    env: startEnv({
      ...sharedDynamoEnv('e2e'),
      SWITCHBOARD_LOCAL_ENDPOINTS_FILE: path.join(os.tmpdir(), `switchboard-e2e-${process.pid}-${randomUUID()}.json`),
      SWITCHBOARD_LOCAL_TEST_HOOKS: '1',
      // Failed records come back at once (production: after 1, 2, 4... s).
      SWITCHBOARD_RETRY_BASE_SECONDS: '0',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      ...env,
    }),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const events: RuntimeEvent[] = [];
  let waiters: { pred: (e: RuntimeEvent) => boolean; resolve: (e: RuntimeEvent) => void }[] = [];
  const replies = new Map<number, (ok: boolean) => void>();
  let nextRequest = 1;
  child.on('message', (m: ChildMessage) => {
    if (m.type === 'event') {
      events.push(m.event);
      waiters = waiters.filter((w) => (w.pred(m.event) ? (w.resolve(m.event), false) : true));
    } else if (m.type === 'reply') {
      replies.get(m.requestId)?.(m.ok);
      replies.delete(m.requestId);
    }
  });

  const ready = await new Promise<ReadyMessage>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the runtime did not report ready in ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve(m);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the runtime exited (code ${code}) before it was ready:\n${output}`));
    });
  });

  const request = (msg: object): Promise<boolean> =>
    new Promise((resolve, reject) => {
      const requestId = nextRequest++;
      const timer = setTimeout(() => reject(new Error(`no reply from the runtime to ${JSON.stringify(msg)}`)), 15_000);
      replies.set(requestId, (ok) => {
        clearTimeout(timer);
        resolve(ok);
      });
      child.send({ ...msg, requestId });
    });

  const waitForEvent = <E extends RuntimeEvent>(
    pred: (e: RuntimeEvent) => boolean,
    timeout = 10_000,
    what = 'a runtime event',
  ): Promise<E> => {
    const seen = events.find(pred);
    if (seen) return Promise.resolve(seen as E);
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (e: RuntimeEvent) => {
          clearTimeout(timer);
          resolve(e as E);
        },
      };
      const timer = setTimeout(() => {
        waiters = waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}`));
      }, timeout);
      waiters.push(waiter);
    });
  };

  return {
    endpoints: ready.endpoints,
    dlqUrl: ready.dlqUrl,
    dlqUrls: ready.dlqUrls,
    queueUrls: ready.queueUrls,
    routes: ready.routes,
    readyMs: ready.readyMs,
    events,
    waitForEvent,
    async connectionIdOf(tag, timeout = 10_000) {
      const e = await waitForEvent<Extract<RuntimeEvent, { type: 'connected' }>>(
        (ev) => ev.type === 'connected' && ev.headers['x-test-client'] === tag,
        timeout,
        `the connection of ${tag}`,
      );
      return e.connectionId;
    },
    vanish: (connectionId) => request({ type: 'vanish', connectionId }),
    failFanout: async (times) => void (await request({ type: 'fail-fanout', times })),
    settle: async () => void (await request({ type: 'settle' })),
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
