import { startRuntimeProcess, type RuntimeProcess } from '../e2e/support/runtime-process';
import { Publisher } from '../e2e/support/ws-client';

export interface FileRuntime {
  /** The runtime process (set before the file's first test). */
  rt: RuntimeProcess;
  /** A publisher to its SNS topic. */
  pub: Publisher;
}

/**
 * One local runtime (`local/start.ts` in a child process, support/runtime-process.ts) and a publisher
 * for a whole test file: started in beforeAll with `env`, stopped in afterAll after `beforeStop`
 * (closing the file's clients).
 */
export function runtimeForFile(
  env: Record<string, string> = {},
  opts: { beforeStop?: () => unknown } = {},
): FileRuntime {
  const file = {} as FileRuntime; // filled in by beforeAll, before any test reads it
  beforeAll(async () => {
    file.rt = await startRuntimeProcess(env);
    file.pub = new Publisher(file.rt.endpoints);
  }, 90_000);
  afterAll(async () => {
    await opts.beforeStop?.();
    file.pub?.destroy();
    await file.rt?.stop();
  });
  return file;
}
