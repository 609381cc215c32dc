import { percentiles, spawnLocal, type ScenarioResult } from '../lib';

/**
 * `npm start` cold: spawn `node --import tsx local/start.ts` (free ports, in-memory DynamoDB Local,
 * endpoints in a temp file) and time it until `.local/endpoints.json` is written and until the
 * banner's "is ready" line; then SIGTERM and time the clean exit. Runs one after another.
 */
export interface StartupParams {
  runs: number;
}

export const STARTUP_DEFAULTS: StartupParams = { runs: 3 };

interface Run {
  endpointsFileMs: number;
  bannerMs: number;
  /** What the banner says ("ready (3.2 s)"): measured inside the child from its process start. */
  selfReportedMs: number | undefined;
  stopMs: number;
  exitCode: number | null;
  killed: boolean;
}

export async function runStartup(p: StartupParams = STARTUP_DEFAULTS): Promise<ScenarioResult> {
  const runs: Run[] = [];
  for (let i = 0; i < p.runs; i++) {
    const rt = await spawnLocal({ quiet: false });
    const stopped = await rt.stop();
    runs.push({
      endpointsFileMs: Math.round(rt.fileMs),
      bannerMs: Math.round(rt.bannerMs ?? NaN),
      selfReportedMs: rt.selfReportedMs,
      stopMs: Math.round(stopped.ms),
      exitCode: stopped.code,
      killed: stopped.killed,
    });
  }
  const stat = (xs: number[]) => {
    const q = percentiles(xs);
    return { min: Math.round(q.min), median: Math.round(q.p50), max: Math.round(q.max) };
  };
  const ready = stat(runs.map((r) => r.bannerMs));
  const file = stat(runs.map((r) => r.endpointsFileMs));
  const stop = stat(runs.map((r) => r.stopMs));
  const unclean = runs.filter((r) => r.exitCode !== 0 || r.killed).length;
  return {
    scenario: 'startup',
    summary:
      `startup (${p.runs} runs): spawn → "is ready" min ${ready.min} / median ${ready.median} / max ${ready.max} ms ` +
      `(endpoints file median ${file.median} ms); SIGTERM → exit median ${stop.median} ms, max ${stop.max} ms${unclean ? `; ${unclean} unclean exits` : ''}`,
    parameters: {
      ...p,
      command: 'node --import tsx local/start.ts',
      ports: 0,
      dynamodb: 'own DynamoDB Local, in memory',
    },
    figures: { readyMs: ready, endpointsFileMs: file, stopMs: stop, runs },
  };
}
