import { backoffDelay } from '../../client/src/backoff';

const opts = (random: () => number) => ({ baseMs: 500, capMs: 30_000, random });

describe('backoffDelay: capped exponential with full jitter', () => {
  test('the ceiling doubles per attempt from baseMs and stops at capMs', () => {
    const almostOne = () => 0.999999;
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 7, 20].map((attempt) => backoffDelay(attempt, opts(almostOne)) + 1);
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  test('full jitter: random() scales the whole range, from 0 up to (not including) the ceiling', () => {
    expect(
      backoffDelay(
        3,
        opts(() => 0),
      ),
    ).toBe(0);
    expect(
      backoffDelay(
        3,
        opts(() => 0.25),
      ),
    ).toBe(1000);
    expect(
      backoffDelay(
        3,
        opts(() => 0.5),
      ),
    ).toBe(2000);
    expect(
      backoffDelay(
        3,
        opts(() => 0.999999),
      ),
    ).toBe(3999);
  });

  test('stays within [0, min(cap, base * 2^attempt)) for any random value and attempt', () => {
    let seed = 42;
    const lcg = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const seen = new Set<number>();
    for (let attempt = 0; attempt < 40; attempt++) {
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt, opts(lcg));
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(Math.min(30_000, 500 * 2 ** attempt));
        seen.add(d);
      }
    }
    expect(seen.size).toBeGreaterThan(1000); // jittered, not a fixed schedule
  });

  test('a negative attempt counts as 0 and a huge one stays finite at the cap', () => {
    expect(
      backoffDelay(
        -3,
        opts(() => 0.999999),
      ),
    ).toBe(499);
    expect(
      backoffDelay(
        10_000,
        opts(() => 0.5),
      ),
    ).toBe(15_000);
  });
});
