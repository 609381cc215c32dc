import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../shared/config';
import { DynamoDbLocalError } from './dynamodb-local';
import { FaultSpecError, NO_FAULTS, type Faults } from './faults';
import type { LocalLog } from './log';
import { PortInUseError } from './ports';
import type { LocalRuntime, RuntimeEvent } from './runtime';
import { runtimeOptionsFromEnv, startEarly } from './runtime-options';

/**
 * `npm start`: the whole system on 127.0.0.1, then `.local/endpoints.json` and a banner.
 *
 *   npm start [-- --persist DIR] [--verbose] [--quiet] [--endpoints-file FILE]
 *
 * Ports: HTTP_PORT, WS_PORT, SNS_PORT, DYNAMODB_PORT (3000, 3001, 4566, 8000; 0 = any free port).
 * Faults: SWITCHBOARD_LOCAL_FAULTS (`name=probability,...`) and SWITCHBOARD_LOCAL_SEED; a bad spec
 * stops it at once with one line and exit code 1; the banner shows the active faults.
 * Ctrl-C / SIGTERM stop everything (DynamoDB Local's JVM included) and free the ports.
 *
 * When started with an IPC channel and SWITCHBOARD_LOCAL_TEST_HOOKS=1 (the e2e tests), it reports
 * `ready` and every gateway/bridge event to the parent, and obeys `vanish` (drop a connection
 * without `$disconnect`), `fail-fanout` (fail the next n fanout invocations) and `settle` (wait for
 * pending `$disconnect`s). When the parent goes away it shuts down.
 */
const USAGE = 'usage: npm start [-- --persist DIR] [--verbose] [--quiet] [--endpoints-file FILE]';

interface ParentMessage {
  type: 'vanish' | 'settle' | 'fail-fanout';
  requestId: number;
  connectionId?: string;
  times?: number;
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        persist: { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        quiet: { type: 'boolean', short: 'q' },
        'endpoints-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`, 2);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const verbose = Boolean(args.verbose);
  const hooks = process.env.SWITCHBOARD_LOCAL_TEST_HOOKS === '1' && typeof process.send === 'function';
  const log: LocalLog = (level, line) => {
    if (level === 'debug' && !verbose) return;
    process.stderr.write(`[local] ${line}\n`);
  };
  // Handler logs (Powertools JSON) are quiet unless asked for.
  if (verbose) process.env.POWERTOOLS_LOG_LEVEL ??= 'INFO';

  let runtime: LocalRuntime | undefined;
  let shuttingDown = false;
  const shutdown = async (code: number, why?: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    if (why) process.stderr.write(`switchboard: ${why}\n`);
    const force = setTimeout(() => process.exit(code || 1), 10_000);
    force.unref();
    await runtime?.stop().catch(() => undefined);
    process.exit(code);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (shuttingDown) process.exit(130); // a second Ctrl-C: stop waiting
      if (!args.quiet) process.stderr.write('\nstopping...\n');
      void shutdown(0);
    });
  }
  process.on('uncaughtException', (err) => void shutdown(1, `unexpected error: ${err.message}`));
  process.on(
    'unhandledRejection',
    (err) => void shutdown(1, `unexpected error: ${(err as Error)?.message ?? String(err)}`),
  );
  if (typeof process.send === 'function') process.on('disconnect', () => void shutdown(0));
  watchParent(() => void shutdown(0, 'the parent process exited; stopping'));

  const forward = hooks ? (e: RuntimeEvent) => process.send?.({ type: 'event', event: e }) : undefined;
  let failFanout = 0;
  const takeFanoutFailure = hooks ? () => (failFanout > 0 ? (failFanout--, true) : false) : undefined;
  let faults: Faults = NO_FAULTS;
  // Only light modules are loaded so far: the ports are checked and DynamoDB Local's JVM (the slowest
  // part to come up) starts before the handlers, the SDK and the demo are loaded, which takes this
  // process most of a second (local/runtime-options.ts).
  let loaded;
  try {
    const options = runtimeOptionsFromEnv();
    faults = options.faults ?? NO_FAULTS;
    const early = await startEarly({ ...options, persistDir: args.persist });
    loaded = await loadRest();
    runtime = await loaded.startRuntime({
      ...early,
      onEvent: forward,
      takeFanoutFailure,
      log,
      onFatal: (message) => void shutdown(1, message),
    });
  } catch (err) {
    if (shuttingDown) return;
    const known =
      err instanceof PortInUseError ||
      err instanceof DynamoDbLocalError ||
      err instanceof ConfigError ||
      err instanceof FaultSpecError;
    const message = (err as Error)?.message ?? String(err);
    if (verbose && !known && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    fail(`could not start: ${message}`, 1);
  }
  if (shuttingDown || !loaded) return;
  loaded.mountDemo(runtime);
  const { endpoints } = runtime;
  const file = loaded.endpointsFile(args['endpoints-file']);
  loaded.writeEndpoints(file, endpoints);
  const readyMs = Math.round(performance.now());

  if (hooks) {
    process.send?.({
      type: 'ready',
      endpoints,
      dlqUrl: runtime.pipeline.queues.ingest.dlqUrl,
      dlqUrls: Object.values(runtime.pipeline.queues).map((q) => q.dlqUrl),
      queueUrls: Object.values(runtime.pipeline.queues).map((q) => q.url),
      routes: runtime.gateway.routes,
      readyMs,
    });
    const rt = runtime;
    process.on('message', (m: ParentMessage) => {
      if (m.type === 'vanish')
        void rt.gateway
          .vanish(m.connectionId ?? '')
          .then((ok) => process.send?.({ type: 'reply', requestId: m.requestId, ok }));
      if (m.type === 'fail-fanout') {
        failFanout = m.times ?? 1;
        process.send?.({ type: 'reply', requestId: m.requestId, ok: true });
      }
      if (m.type === 'settle')
        void rt.gateway.settled().then(() => process.send?.({ type: 'reply', requestId: m.requestId, ok: true }));
    });
  }
  if (!args.quiet) process.stdout.write(await banner(runtime, file, readyMs, faults, loaded.mintToken));
  // Quiet runs (the e2e tests) still say which faults are on, with the seed to repeat the run.
  else if (Object.keys(faults.active).length > 0) log('warn', `faults: ${faults.describe()}`);
}

/** What `npm start` loads once DynamoDB Local is starting: the runtime with its handlers, the demo, the CLI helpers. */
async function loadRest() {
  const [{ startRuntime }, { mountDemo }, { endpointsFile, mintToken, writeEndpoints }] = await Promise.all([
    import('./runtime'),
    import('./demo/mount-demo'),
    import('./cli/common'),
  ]);
  return { startRuntime, mountDemo, endpointsFile, mintToken, writeEndpoints };
}

async function banner(
  runtime: LocalRuntime,
  file: string,
  readyMs: number,
  faults: Faults,
  mintToken: Awaited<ReturnType<typeof loadRest>>['mintToken'],
): Promise<string> {
  const e = runtime.endpoints;
  const token = await mintToken({ sub: 'local-admin', role: 'admin' }, e.jwtSecret, 24 * 3600);
  const rel = path.relative(process.cwd(), file) || file;
  return [
    '',
    `Switchboard local is ready (${(readyMs / 1000).toFixed(1)} s)`,
    '',
    `  WebSocket   ${e.websocketUrl}?token=<JWT>`,
    `  HTTP API    ${e.httpUrl}   demo page: ${e.demoUrl}`,
    `  SNS         ${e.snsEndpoint}   topic ${e.topicArn}`,
    `  DynamoDB    ${e.dynamodbEndpoint}   table ${e.tableName} (${runtime.persistent ? 'persisted' : 'in memory'})`,
    `  endpoints   ${rel}`,
    `  faults      ${faults.describe()}`,
    '',
    'An admin token (24 h):',
    `  ${token}`,
    '',
    'Watch events:   npm run tail -- --role admin --channels admin',
    `Publish one:    npm run publish -- --channels admin --event hello --data '{"hi":1}'`,
    'Make a token:   TOKEN=$(npm run -s token -- --sub u1 --role specialist --specialist-id 2)',
    '',
    'Ctrl-C stops everything.',
    '',
  ].join('\n');
}

/**
 * `npm start` runs this under npm and a shell; a SIGTERM to npm kills those without passing it on.
 * When the parent is gone, stop too rather than keep the ports and Java as an orphan.
 */
function watchParent(onGone: () => void): void {
  const parent = process.ppid;
  if (parent <= 1) return;
  const timer = setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      clearInterval(timer);
      onGone();
    }
  }, 1000);
  timer.unref();
}

function fail(message: string, code: number): never {
  process.stderr.write(`switchboard: ${message}\n`);
  process.exit(code);
}

void main();
