import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeResult, percentiles } from '../../bench/lib';
import { runFanoutEngine } from '../../bench/scenarios/fanout-engine';
import { LARGE_CHANNEL_DEFAULTS, runLargeChannel } from '../../bench/scenarios/large-channel';

// Benchmarks are not tests: this tiny run only proves the bench still works end to end.
describe('bench smoke', () => {
  test('fanout-engine delivers every post and writes a JSON result', async () => {
    const result = await runFanoutEngine({ sizes: [30], concurrencies: [4], latencyMs: 1, repeats: 1 });
    expect(result.figures).toEqual([
      expect.objectContaining({ poster: 'lean', subscribers: 30, concurrency: 4, floorMs: 7.5 }),
      expect.objectContaining({ poster: 'sdk', subscribers: 30 }),
    ]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
    const file = writeResult(result, dir);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({
      scenario: 'fanout-engine',
      machine: { cores: expect.any(Number) },
    });
  });

  test('large-channel runs the sharded path under a throttle and loses nothing', async () => {
    const result = await runLargeChannel({
      ...LARGE_CHANNEL_DEFAULTS,
      connections: 400,
      rates: [4000],
      burst: 50,
      latencyMs: 2,
      shardSize: 20,
      lanes: 4,
      repeats: 1,
    });
    expect(result.figures).toEqual([
      expect.objectContaining({ throttlePerSecond: 4000, shards: expect.any(Number), lostInAnyRun: 0, duplicates: 0 }),
    ]);
    expect((result.figures as { shards: number }[])[0]?.shards).toBeGreaterThanOrEqual(20);
  });

  test('percentiles', () => {
    expect(percentiles([5, 1, 4, 2, 3])).toEqual({ count: 5, min: 1, p50: 3, p95: 5, p99: 5, max: 5 });
  });
});
