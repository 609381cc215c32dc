import * as fs from 'node:fs';
import * as path from 'node:path';
import { FUNCTION_SETTINGS, PIPELINE, visibilityTimeoutSeconds } from '../../shared/pipeline';

/** docs/deploy.md repeats the pipeline table for operators; it must say what the stack deploys. */
test('the pipeline table in docs/deploy.md matches shared/pipeline.ts', () => {
  const doc = fs.readFileSync(path.join(__dirname, '../../docs/deploy.md'), 'utf8');
  for (const stage of Object.values(PIPELINE)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| ${stage.queue} |`));
    expect(row).toBeDefined();
    const cells = row!.split('|').map((c) => c.trim());
    const { timeoutSeconds, memoryMb } = FUNCTION_SETTINGS[stage.fn];
    expect(cells[3]).toContain(`\`${stage.fn}\` (${timeoutSeconds} s, ${memoryMb} MB)`);
    expect(cells[4]).toBe(String(stage.batchSize));
    expect(cells[5]).toContain(String(stage.maxConcurrency));
    expect(cells[6]).toBe(`${visibilityTimeoutSeconds(stage)} s`);
    expect(cells[7]).toBe(`${stage.maxReceiveCount} receives`);
    expect(cells[2]!.startsWith(stage.fifo ? 'FIFO' : 'standard')).toBe(true);
  }
});
