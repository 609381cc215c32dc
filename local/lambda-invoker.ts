import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { registerClientMiddleware, type ClientMiddleware } from '../shared/client-middleware';
import { FUNCTION_SETTINGS } from '../shared/pipeline';
import type { FunctionName } from '../shared/routes';
import type { Faults } from './faults';

/**
 * Invokes a handler as Lambda would: with a context whose `getRemainingTimeInMillis()` counts down
 * the function's timeout (shared/pipeline.ts FUNCTION_SETTINGS), and a hard stop at that timeout
 * ("Task timed out after N seconds"). After the stop, or after an injected crash, the invocation's
 * AWS calls fail, as in a frozen sandbox: a late handler cannot keep working behind its retry.
 *
 * Faults (for the fan-out functions only): `fanout_crash` makes the n-th AWS call of the invocation
 * throw (n random, so the crash lands at a random point after the start); `fanout_timeout` makes the
 * n-th call hang until the invocation times out.
 */
export interface LambdaContext {
  functionName: string;
  awsRequestId: string;
  getRemainingTimeInMillis(): number;
}

export type Handler = (event: unknown, context: LambdaContext) => Promise<unknown>;

interface Invocation {
  deadline: number;
  calls: number;
  dead?: Error;
  crashAt?: number;
  hangAt?: number;
  killed: Promise<void>;
}

const current = new AsyncLocalStorage<Invocation>();

const guard: ClientMiddleware = (next) => async (args) => {
  const inv = current.getStore();
  if (!inv) return next(args);
  if (inv.dead) throw inv.dead;
  inv.calls++;
  if (inv.crashAt !== undefined && inv.calls >= inv.crashAt) {
    inv.crashAt = undefined;
    throw Object.assign(new Error('injected fault fanout_crash: the invocation crashed here'), {
      name: 'InjectedCrash',
    });
  }
  if (inv.hangAt !== undefined && inv.calls >= inv.hangAt) {
    inv.hangAt = undefined;
    await inv.killed;
    throw inv.dead ?? new Error('invocation ended');
  }
  return next(args);
};
registerClientMiddleware(guard);

export class LambdaTimeoutError extends Error {
  override name = 'Sandbox.Timedout';
}

export interface InvokeOptions {
  fn: FunctionName;
  /** Overrides FUNCTION_SETTINGS[fn].timeoutSeconds (tests of the timeout itself). */
  timeoutMs?: number;
  /** Faults to roll for this invocation (`fanout_crash`, `fanout_timeout`). */
  faults?: Faults;
  /** Test hook: the invocation's n-th AWS call throws (a crash at a known point). */
  crashAtCall?: number;
}

export async function invoke(handler: Handler, event: unknown, opts: InvokeOptions): Promise<unknown> {
  const timeoutMs = opts.timeoutMs ?? FUNCTION_SETTINGS[opts.fn].timeoutSeconds * 1000;
  let kill!: () => void;
  const killed = new Promise<void>((resolve) => (kill = resolve));
  const inv: Invocation = { deadline: Date.now() + timeoutMs, calls: 0, killed };
  const faults = opts.faults;
  if (opts.crashAtCall !== undefined) inv.crashAt = opts.crashAtCall;
  else if (faults?.roll('fanout_crash')) inv.crashAt = 1 + Math.floor(faults.random() * 6);
  else if (faults?.roll('fanout_timeout')) inv.hangAt = 1 + Math.floor(faults.random() * 6);
  const context: LambdaContext = {
    functionName: opts.fn,
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => Math.max(0, inv.deadline - Date.now()),
  };
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      inv.dead = new LambdaTimeoutError(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
      kill();
      reject(inv.dead);
    }, timeoutMs);
  });
  try {
    return await Promise.race([current.run(inv, () => handler(event, context)), timedOut]);
  } catch (err) {
    inv.dead ??= err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    clearTimeout(timer);
    inv.dead ??= new Error('invocation ended');
    kill();
  }
}
