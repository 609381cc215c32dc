import { flags, numList, writeResult, type ScenarioResult } from './lib';
import { BOOKING_DEFAULTS, runBooking } from './scenarios/booking';
import { BROADCAST_DEFAULTS, runBroadcast } from './scenarios/broadcast';
import { FANOUT_ENGINE_DEFAULTS, runFanoutEngine } from './scenarios/fanout-engine';
import { LARGE_CHANNEL_DEFAULTS, runLargeChannel } from './scenarios/large-channel';
import { OPS_DEFAULTS, runOps } from './scenarios/ops';
import { runSize } from './scenarios/size';
import { runStartup, STARTUP_DEFAULTS } from './scenarios/startup';

/**
 * `npm run bench` runs every scenario with default sizes; `npm run bench -- <scenario> --flag value`
 * runs one. Each writes bench/results/<scenario>.json and prints one summary line.
 */
type Runner = (f: Record<string, string>) => Promise<ScenarioResult>;

export const SCENARIOS: Record<string, Runner> = {
  'fanout-engine': (f) =>
    runFanoutEngine({
      sizes: numList(f.sizes, FANOUT_ENGINE_DEFAULTS.sizes),
      concurrencies: numList(f.concurrency, FANOUT_ENGINE_DEFAULTS.concurrencies),
      latencyMs: Number(f.latency ?? FANOUT_ENGINE_DEFAULTS.latencyMs),
      repeats: Number(f.repeats ?? FANOUT_ENGINE_DEFAULTS.repeats),
    }),
  'large-channel': (f) =>
    runLargeChannel({
      ...LARGE_CHANNEL_DEFAULTS,
      connections: Number(f.connections ?? LARGE_CHANNEL_DEFAULTS.connections),
      rates: numList(f.rates, LARGE_CHANNEL_DEFAULTS.rates),
      latencyMs: Number(f.latency ?? LARGE_CHANNEL_DEFAULTS.latencyMs),
      shardSize: Number(f['shard-size'] ?? LARGE_CHANNEL_DEFAULTS.shardSize),
      lanes: Number(f.lanes ?? LARGE_CHANNEL_DEFAULTS.lanes),
      repeats: Number(f.repeats ?? LARGE_CHANNEL_DEFAULTS.repeats),
      // Limiter experiments: --limiter '{"beta":0.9}' (shared/post-rate.ts option names).
      limiter: f.limiter ? (JSON.parse(f.limiter) as Record<string, number>) : undefined,
    }),
  ops: (f) => runOps({ ...OPS_DEFAULTS, broadcastSizes: numList(f.sizes, OPS_DEFAULTS.broadcastSizes) }),
  size: () => runSize(),
  booking: (f) =>
    runBooking({
      ...BOOKING_DEFAULTS,
      subscribers: Number(f.subscribers ?? BOOKING_DEFAULTS.subscribers),
      rate: Number(f.rate ?? BOOKING_DEFAULTS.rate),
      seconds: Number(f.seconds ?? BOOKING_DEFAULTS.seconds),
      drainSeconds: Number(f.drain ?? BOOKING_DEFAULTS.drainSeconds),
      seed: Number(f.seed ?? BOOKING_DEFAULTS.seed),
      channelsPerEvent: f.channels === '1' ? 1 : 3,
      faults: f.faults ?? '',
    }),
  broadcast: (f) =>
    runBroadcast({
      ...BROADCAST_DEFAULTS,
      sizes: numList(f.sizes, BROADCAST_DEFAULTS.sizes),
      messages: Number(f.messages ?? BROADCAST_DEFAULTS.messages),
      rate: Number(f.rate ?? BROADCAST_DEFAULTS.rate),
      drainSeconds: Number(f.drain ?? BROADCAST_DEFAULTS.drainSeconds),
    }),
  startup: (f) => runStartup({ runs: Number(f.runs ?? STARTUP_DEFAULTS.runs) }),
};

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  const names = name && !name.startsWith('--') ? [name] : Object.keys(SCENARIOS);
  for (const n of names) {
    const run = SCENARIOS[n];
    if (!run) {
      process.stderr.write(`unknown scenario "${n}"; choose one of: ${Object.keys(SCENARIOS).join(', ')}\n`);
      process.exit(2);
    }
    const result = await run(flags(rest));
    const file = writeResult(result);
    process.stdout.write(`${result.summary}\n  → ${file}\n`);
  }
}

if (require.main === module) {
  // Benchmarks talk to local endpoints only: dummy credentials and a region, as in local mode.
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'bench';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  main().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
