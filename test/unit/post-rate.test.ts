import { POST_RATE_DEFAULTS, PostRateLimiter } from '../../shared/post-rate';

/** The per-container `@connections` rate limiter (shared/post-rate.ts), on a fake clock. */
function limiterAt(start = 1_000_000) {
  const clock = { t: start };
  const limiter = new PostRateLimiter({ now: () => clock.t });
  return { clock, limiter };
}

/** `n` successful posts spread evenly over `ms`. */
function succeed(l: ReturnType<typeof limiterAt>, n: number, ms: number): void {
  for (let i = 0; i < n; i++) {
    l.clock.t += ms / n;
    l.limiter.succeeded();
  }
}

test('one connection refused again and again (a full buffer) is never the account: no limit for anyone', () => {
  const l = limiterAt();
  succeed(l, 100, 100);
  for (let i = 0; i < 50; i++) {
    l.clock.t += 10;
    expect(l.limiter.throttled('paused')).toBe(false);
  }
  expect(l.limiter.limit).toBe(Infinity);
  expect(l.limiter.reserve()).toBe(0);
});

test('a few paused readers among many healthy connections are not the account either', () => {
  const l = limiterAt();
  succeed(l, 3000, 1000); // 3,000 posts/s accepted
  for (const id of ['p1', 'p2', 'p3']) expect(l.limiter.throttled(id)).toBe(false); // 3 of 3,003: under 1 %
  expect(l.limiter.limit).toBe(Infinity);
});

test('many connections refused at once: account-wide; the rate drops to what the account accepted, posts are paced', () => {
  const l = limiterAt();
  succeed(l, 600, 1000); // the account accepted 600 posts/s of this container
  const verdicts = Array.from({ length: 10 }, (_, i) => l.limiter.throttled(`c${i}`));
  // Account-wide from the 7th: at least 3 connections, and 429s at least 1 % of the answers (7 of 607).
  expect(verdicts).toEqual([false, false, false, false, false, false, true, true, true, true]);
  expect(l.limiter.decreases).toBe(0); // retried without budget, but 10 of 610 is no reason to slow down
  for (let i = 10; i < 200; i++) l.limiter.throttled(`c${i}`); // the burst goes on: over 10 % of the answers
  expect(l.limiter.decreases).toBe(1); // one burst of refusals, one decrease
  expect(l.limiter.limit).toBeCloseTo(0.8 * 600, -1);
  // 480/s: after the small burst allowance, each post waits ~2.08 ms more than the one before.
  const waits = Array.from({ length: 30 }, () => l.limiter.reserve());
  expect(waits[0]).toBe(0);
  const last = waits[waits.length - 1] as number;
  expect(last).toBeGreaterThan(30);
  expect(last).toBeLessThan(45);
  expect(waits).toEqual([...waits].sort((a, b) => a - b));
});

test('without refusals the rate grows back and, after a while, the limit is dropped', () => {
  const l = limiterAt();
  succeed(l, 600, 1000);
  for (let i = 0; i < 200; i++) l.limiter.throttled(`c${i}`);
  const limited = l.limiter.limit;
  l.clock.t += 1000;
  l.limiter.reserve();
  expect(l.limiter.limit).toBeCloseTo(limited * Math.exp(POST_RATE_DEFAULTS.increase), 0); // e^increase-fold per second
  l.clock.t += 5000;
  expect(l.limiter.reserve()).toBe(0);
  expect(l.limiter.limit).toBe(Infinity);
});

test('refused on everything (starting while others hold the whole throttle): the rate halves, it does not collapse', () => {
  const l = limiterAt();
  for (let i = 0; i < 320; i++) {
    l.clock.t += 100 / 320; // 3,200 posts/s offered, none accepted
    l.limiter.throttled(`c${i}`);
  }
  expect(l.limiter.decreases).toBe(1);
  expect(l.limiter.limit).toBeGreaterThan(0.8 * 1600 * 0.9);
  expect(l.limiter.limit).toBeLessThan(0.8 * 1600 * 1.1);
});

test('a steady 3 % of 429s spread over many connections (slow readers, injected faults) never drives the rate down', () => {
  const l = limiterAt();
  let n = 0;
  for (let i = 0; i < 30_000; i++) {
    l.clock.t += 1000 / 3000; // 3,000 posts/s for 10 s
    if (i % 33 === 0)
      l.limiter.throttled(`c${n++}`); // account-wide (many connections, ≥ 1 %): retried without budget
    else l.limiter.succeeded();
  }
  expect(l.limiter.accountThrottles).toBeGreaterThan(0);
  expect(l.limiter.decreases).toBe(0);
  expect(l.limiter.limit).toBe(Infinity);
});

test('paused readers retried over and over count once each: they never drive the rate down', () => {
  const l = limiterAt();
  for (let round = 0; round < 50; round++) {
    succeed(l, 100, 100); // 1,000 posts/s to healthy connections
    for (const id of ['p1', 'p2', 'p3', 'p4', 'p5']) l.limiter.throttled(id); // 5 paused readers, 50 429s/s each
  }
  expect(l.limiter.decreases).toBe(0);
  expect(l.limiter.limit).toBe(Infinity);
});
