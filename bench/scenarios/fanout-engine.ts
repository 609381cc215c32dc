import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { deliverLanes } from '../../shared/lane-delivery';
import { frameHead, type LaneMessage } from '../../shared/lanes';
import { ManagementApiPoster, managementClient } from '../../shared/management-api';
import { round, type ScenarioResult } from '../lib';

/**
 * The delivery engine alone (the `deliver` stage): one event to N connections, posted through the
 * real management-API client to a server that answers after a fixed latency. Compares completion
 * time with the floor N × latency ÷ concurrency.
 */
export interface FanoutEngineParams {
  sizes: number[];
  concurrencies: number[];
  latencyMs: number;
  repeats: number;
}

export const FANOUT_ENGINE_DEFAULTS: FanoutEngineParams = { sizes: [100, 1000, 5000], concurrencies: [16, 32, 64, 128], latencyMs: 20, repeats: 2 };

export async function runFanoutEngine(p: FanoutEngineParams = FANOUT_ENGINE_DEFAULTS): Promise<ScenarioResult> {
  let posts = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      posts++;
      setTimeout(() => res.writeHead(200).end(), p.latencyMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const mgmt = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const rows: Record<string, unknown>[] = [];
  try {
    for (const n of p.sizes) {
      const channel = `bench_${n}`;
      for (const concurrency of p.concurrencies) {
        const poster = new ManagementApiPoster(managementClient(mgmt, concurrency));
        const times: number[] = [];
        for (let r = 0; r < p.repeats; r++) {
          const message: LaneMessage = {
            v: 1,
            events: [{ head: frameHead({ id: `b-${n}-${concurrency}-${r}`, event: 'bench', data: { r } }, Date.now()), targets: Array.from({ length: n }, (_, i) => [`c${n}-${i}`, { [channel]: r + 1 }] as [string, Record<string, number>]) }],
          };
          const before = posts;
          const start = performance.now();
          const report = await deliverLanes(poster, [message], { concurrency, retryBudgetMs: 1000, deadline: Date.now() + 120_000 });
          times.push(performance.now() - start);
          if (report.delivered !== n || posts - before !== n) throw new Error(`delivered ${report.delivered} of ${n}`);
        }
        const best = Math.min(...times);
        const floor = (n * p.latencyMs) / concurrency;
        rows.push({ subscribers: n, concurrency, completionMs: round(best), allRunsMs: times.map((t) => round(t)), floorMs: round(floor), overFloor: round(best / floor), postsPerSecond: Math.round((n / best) * 1000) });
      }
    }
  } finally {
    server.closeAllConnections();
    server.close();
  }
  const worst = rows.reduce((a, r) => Math.max(a, r.overFloor as number), 0);
  return {
    scenario: 'fanout-engine',
    summary: `fanout-engine: ${rows.map((r) => `${r.subscribers}@c${r.concurrency}=${r.completionMs}ms`).join(' ')}; worst ${worst}× the N×latency÷concurrency floor`,
    parameters: { ...p },
    figures: rows,
  };
}
