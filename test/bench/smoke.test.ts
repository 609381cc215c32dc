import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeResult, percentiles } from '../../bench/lib';
import { runFanoutEngine } from '../../bench/scenarios/fanout-engine';

// Benchmarks are not tests: this tiny run only proves the bench still works end to end.
describe('bench smoke', () => {
  test('fanout-engine delivers every post and writes a JSON result', async () => {
    const result = await runFanoutEngine({ sizes: [30], concurrencies: [4], latencyMs: 1, repeats: 1 });
    expect(result.figures).toEqual([expect.objectContaining({ subscribers: 30, concurrency: 4, floorMs: 7.5 })]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
    const file = writeResult(result, dir);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ scenario: 'fanout-engine', machine: { cores: expect.any(Number) } });
  });

  test('percentiles', () => {
    expect(percentiles([5, 1, 4, 2, 3])).toEqual({ count: 5, min: 1, p50: 3, p95: 5, p99: 5, max: 5 });
  });
});
