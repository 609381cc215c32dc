import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/**
 * fauxqs (the SNS/SQS emulator `npm start` uses) in a child process: it ships ESM only, which
 * jest's CommonJS runtime cannot load. One per jest run, on a free port; tests create their own queues.
 */
export interface SqsEmulator {
  endpoint: string;
  stop(): Promise<void>;
}

export async function startSqsEmulator(): Promise<SqsEmulator> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'sqs-emulator-main.ts')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fauxqs did not start in 30 s: ${output}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
      const m = output.match(/PORT (\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => reject(new Error(`fauxqs exited (${code}): ${output}`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
