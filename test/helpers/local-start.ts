import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';

/**
 * `local/start.ts` (what `npm start` runs) as the e2e tests start it: the environment they give it
 * and the child process with its output kept. Every child started here is killed after the test file
 * (`killStartedProcesses` in afterAll) if a test left it running.
 */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The environment of a `local/start.ts` child: this one's, every port free (0), none of the test hooks unless `extra` sets them. */
export function startEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HTTP_PORT: '0', WS_PORT: '0', SNS_PORT: '0', DYNAMODB_PORT: '0' };
  delete env.SWITCHBOARD_LOCAL_DYNAMODB_ENDPOINT;
  delete env.SWITCHBOARD_TABLE_NAME;
  delete env.SWITCHBOARD_LOCAL_TEST_HOOKS;
  return { ...env, ...extra };
}

/** Settings that put the child on the DynamoDB Local of jest's global setup, in a table of its own (no Java start per test). */
export function sharedDynamoEnv(tablePrefix: string): Record<string, string> {
  const ddb = process.env.SWITCHBOARD_TEST_DYNAMODB_ENDPOINT;
  if (!ddb) throw new Error('SWITCHBOARD_TEST_DYNAMODB_ENDPOINT is not set: jest globalSetup starts DynamoDB Local');
  return { SWITCHBOARD_LOCAL_DYNAMODB_ENDPOINT: ddb, SWITCHBOARD_TABLE_NAME: `${tablePrefix}-${randomUUID()}` };
}

export interface StartedProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];

/** `local/start.ts` with `args`. */
export function spawnStart(args: string[], env: NodeJS.ProcessEnv, stdio?: StdioOptions): StartedProcess {
  return spawnTsx('local/start.ts', args, env, stdio);
}

/** A TypeScript entry point of the repo (`local/start.ts`, `local/cli/tail.ts`) run as package.json runs it. */
export function spawnTsx(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  stdio: StdioOptions = ['ignore', 'pipe', 'pipe'],
): StartedProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO_ROOT, env, stdio });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Kills (SIGKILL) every child started here that is still running. */
export function killStartedProcesses(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/** Waits for the banner's last line (resolves) or the process's exit (rejects with its output). */
export function bannerShown(s: StartedProcess, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not ready in ${timeoutMs} ms:\n${s.stdout()}\n${s.stderr()}`)),
      timeoutMs,
    );
    const check = () => {
      if (s.stdout().includes('Ctrl-C stops everything')) {
        clearTimeout(timer);
        resolve();
      }
    };
    s.child.stdout?.on('data', check);
    check();
    void s.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready:\n${s.stdout()}\n${s.stderr()}`));
    });
  });
}
