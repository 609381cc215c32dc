/**
 * Reconnect delay: capped exponential with full jitter, `random() * min(cap, base * 2^attempt)`.
 * `attempt` counts from 0, so the first retry waits less than `baseMs`; `random` returns [0, 1).
 */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  random: () => number;
}

export function backoffDelay(attempt: number, { baseMs, capMs, random }: BackoffOptions): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(0, attempt), 52));
  return Math.floor(random() * ceiling);
}
