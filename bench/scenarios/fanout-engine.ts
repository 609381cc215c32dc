import { deliverLanes, resetSlowConnections } from '../../shared/lane-delivery';
import { frameHead, type ResolvedLaneMessage } from '../../shared/lanes';
import { LeanPoster } from '../../shared/lean-poster';
import { ManagementApiPoster, managementClient, type Poster } from '../../shared/management-api';
import { startFakeConnectionsApi } from '../fake-connections-api';
import { round, type ScenarioResult } from '../lib';

/**
 * The delivery engine alone (the `deliver` stage): one event to N connections, posted through the
 * lean poster (and, for comparison, the SDK's client) to a fake `@connections` API in a child process
 * that answers after a fixed latency. Compares completion time with the floor N × latency ÷
 * concurrency; CPU per post is this process's (the engine's), not the fake API's.
 */
export interface FanoutEngineParams {
  sizes: number[];
  concurrencies: number[];
  latencyMs: number;
  repeats: number;
}

export const FANOUT_ENGINE_DEFAULTS: FanoutEngineParams = {
  sizes: [100, 1000, 5000],
  concurrencies: [16, 32, 64, 128],
  latencyMs: 20,
  repeats: 3,
};

interface EngineRow {
  poster: string;
  subscribers: number;
  concurrency: number;
  completionMs: number;
  medianMs: number;
  allRunsMs: number[];
  floorMs: number;
  overFloor: number;
  overFloorMedian: number;
  postsPerSecond: number;
  cpuMicrosPerPost: number;
}

export async function runFanoutEngine(p: FanoutEngineParams = FANOUT_ENGINE_DEFAULTS): Promise<ScenarioResult> {
  const api = await startFakeConnectionsApi(p.latencyMs);
  const mgmt = api.endpoint;
  const rows: EngineRow[] = [];
  try {
    for (const n of p.sizes) {
      const channel = `bench_${n}`;
      for (const concurrency of p.concurrencies) {
        for (const kind of ['lean', 'sdk'] as const) {
          const poster: Poster =
            kind === 'lean'
              ? new LeanPoster({
                  endpoint: mgmt,
                  region: 'us-east-1',
                  credentials: async () => ({ accessKeyId: 'bench', secretAccessKey: 'bench' }),
                  maxSockets: concurrency,
                  timeoutMs: 10_000,
                })
              : new ManagementApiPoster(managementClient(mgmt, concurrency, 10_000));
          const times: number[] = [];
          const cpuBefore = process.cpuUsage();
          for (let r = 0; r < p.repeats; r++) {
            const message: ResolvedLaneMessage = {
              v: 1,
              events: [
                {
                  head: frameHead({ id: `b-${n}-${concurrency}-${r}`, event: 'bench', data: { r } }, Date.now()),
                  targets: Array.from(
                    { length: n },
                    (_, i) => [`c${n}-${i}`, { [channel]: r + 1 }] as [string, Record<string, number>],
                  ),
                },
              ],
            };
            resetSlowConnections(); // each run posts the same connections the same seqs again
            const before = await api.posts();
            const start = performance.now();
            const report = await deliverLanes(poster, [message], {
              concurrency,
              retryBudgetMs: 1000,
              deadline: Date.now() + 120_000,
            });
            times.push(performance.now() - start);
            if (report.delivered !== n || (await api.posts()) - before !== n)
              throw new Error(`delivered ${report.delivered} of ${n}`);
          }
          const cpu = process.cpuUsage(cpuBefore);
          const best = Math.min(...times);
          const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)] as number;
          const floor = (n * p.latencyMs) / concurrency;
          if (kind === 'lean') (poster as LeanPoster).destroy();
          rows.push({
            poster: kind,
            subscribers: n,
            concurrency,
            completionMs: round(best),
            medianMs: round(median),
            allRunsMs: times.map((t) => round(t)),
            floorMs: round(floor),
            overFloor: round(best / floor),
            overFloorMedian: round(median / floor),
            postsPerSecond: Math.round((n / best) * 1000),
            cpuMicrosPerPost: Math.round((cpu.user + cpu.system) / (n * p.repeats)),
          });
        }
      }
    }
  } finally {
    await api.stop();
  }
  const worst = rows.reduce((a, r) => Math.max(a, r.overFloor), 0);
  return {
    scenario: 'fanout-engine',
    summary: `fanout-engine: ${rows.map((r) => `${r.poster} ${r.subscribers}@c${r.concurrency}=${r.completionMs}ms best, ${r.medianMs}ms median (${r.overFloor}×/${r.overFloorMedian}×, ${r.cpuMicrosPerPost} µs CPU/post)`).join(' ')}; worst ${worst}× the N×latency÷concurrency floor`,
    parameters: { ...p },
    figures: rows,
  };
}
