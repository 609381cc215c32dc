import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Shared helpers for benchmark scenarios: percentiles, machine facts, result files. */
export function percentiles(values: number[]): { p50: number; p95: number; p99: number; max: number; min: number; count: number } {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? (s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number) : NaN);
  return { count: s.length, min: s[0] ?? NaN, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: s[s.length - 1] ?? NaN };
}

export function machine(): Record<string, unknown> {
  return { cores: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.arch()}` };
}

export interface ScenarioResult {
  scenario: string;
  summary: string;
  parameters: Record<string, unknown>;
  figures: unknown;
}

export function writeResult(result: ScenarioResult, dir = path.join(__dirname, 'results')): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${result.scenario}.json`);
  fs.writeFileSync(file, `${JSON.stringify({ ...result, machine: machine(), at: new Date().toISOString() }, null, 2)}\n`);
  return file;
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** `--name value` flags after the scenario name. */
export function flags(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a.startsWith('--')) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        out[a.slice(2)] = next;
        i++;
      } else out[a.slice(2)] = 'true';
    }
  }
  return out;
}

export const numList = (v: string | undefined, def: number[]): number[] => (v ? v.split(',').map(Number).filter((n) => Number.isFinite(n) && n > 0) : def);
