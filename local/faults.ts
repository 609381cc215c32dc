/**
 * Fault injection for the local runtime (docs/local.md, "Faults"): `SWITCHBOARD_LOCAL_FAULTS` is a
 * comma list of `name=probability`; `SWITCHBOARD_LOCAL_SEED` makes the dice repeatable. Each part of
 * the runtime asks `roll(name)` where that failure can happen, so a test (or anyone reproducing an
 * incident) gets AWS's failures on demand.
 */
export const FAULT_NAMES = [
  /** `@connections` POST answers 429 LimitExceededException. */
  'post_429',
  /** `@connections` POST answers 500 InternalServerErrorException. */
  'post_5xx',
  /** `@connections` POST never answers; the caller's own timeout ends it. */
  'post_timeout',
  /** `$connect` is held a little longer, so posts to the connection meanwhile answer 410 (as on AWS). */
  'post_gone_at_connect',
  /** A DynamoDB call from a handler answers ProvisionedThroughputExceededException. */
  'ddb_throttle',
  /** A fan-out invocation (fanout, sequencer, deliver) throws at a random point after it started. */
  'fanout_crash',
  /** A fan-out invocation stops making progress at a random point and runs into its timeout. */
  'fanout_timeout',
  /**
   * A message of a standard queue (ingest) is delivered twice: a copy goes to a second invocation at
   * the same time, as SNS and SQS standard queues deliver at least once.
   */
  'sqs_duplicate',
] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

export interface Faults {
  /** True with the configured probability of `name` (never when it is not configured). */
  roll(name: FaultName): boolean;
  /** A number in [0, 1) from the same seeded sequence. */
  random(): number;
  /** The configured probabilities. */
  readonly active: Readonly<Partial<Record<FaultName, number>>>;
  /** One line for the banner, e.g. `post_429=0.05, ddb_throttle=0.02 (seed 42)`, or `none`. */
  describe(): string;
}

export class FaultSpecError extends Error {
  override name = 'FaultSpecError';
}

/** Parses `SWITCHBOARD_LOCAL_FAULTS` / `SWITCHBOARD_LOCAL_SEED`; a bad spec throws one clear line. */
export function parseFaults(spec: string | undefined, seed?: string): Faults {
  const active: Partial<Record<FaultName, number>> = {};
  for (const part of (spec ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim();
    const raw = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!(FAULT_NAMES as readonly string[]).includes(name)) {
      throw new FaultSpecError(`SWITCHBOARD_LOCAL_FAULTS: unknown fault "${name}" (known: ${FAULT_NAMES.join(', ')})`);
    }
    const p = Number(raw);
    if (raw === '' || !Number.isFinite(p) || p < 0 || p > 1) {
      throw new FaultSpecError(
        `SWITCHBOARD_LOCAL_FAULTS: ${name} needs a probability from 0 to 1, as in ${name}=0.05, got "${raw}"`,
      );
    }
    active[name as FaultName] = p;
  }
  let seedValue: number;
  if (seed !== undefined && seed.trim() !== '') {
    seedValue = Number(seed);
    if (!Number.isInteger(seedValue))
      throw new FaultSpecError(`SWITCHBOARD_LOCAL_SEED must be an integer, got "${seed}"`);
  } else {
    seedValue = Math.floor(Math.random() * 2 ** 31);
  }
  const random = mulberry32(seedValue);
  const names = Object.keys(active) as FaultName[];
  return {
    active,
    random,
    roll: (name) => {
      const p = active[name];
      return p !== undefined && p > 0 && random() < p;
    },
    describe: () =>
      names.length === 0 ? 'none' : `${names.map((n) => `${n}=${active[n]}`).join(', ')} (seed ${seedValue})`,
  };
}

export const NO_FAULTS: Faults = parseFaults(undefined, '1');

/** mulberry32: a tiny seeded PRNG; repeatable dice are all it is for (not cryptography). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
