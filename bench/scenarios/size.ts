import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { BUNDLING } from '../../infra/functions';
import { FUNCTIONS } from '../../shared/routes';
import { round, type ScenarioResult } from '../lib';

/**
 * Bundle size of each Lambda as the CDK stack ships it (esbuild with the stack's BUNDLING settings,
 * AWS SDK bundled in: see infra/functions.ts)
 * and of the browser client (min+gzip), and each handler's module init time in a fresh Node process.
 */
const root = path.join(__dirname, '../..');

export async function runSize(): Promise<ScenarioResult> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-size-'));
  const functions: Record<string, unknown>[] = [];
  for (const name of FUNCTIONS) {
    const outfile = path.join(out, `${name}.js`);
    await build({ entryPoints: [path.join(root, 'functions', `${name}.ts`)], bundle: true, minify: BUNDLING.minify, platform: 'node', target: BUNDLING.target, format: 'cjs', mainFields: [...BUNDLING.mainFields], outfile, logLevel: 'silent' });
    const bytes = fs.statSync(outfile).size;
    // Init = require() of the self-contained bundle in a fresh Node process.
    const inits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const ms = execFileSync(process.execPath, ['-e', `const t=performance.now();require(${JSON.stringify(outfile)});process.stdout.write(String(performance.now()-t))`], { cwd: out }).toString();
      inits.push(Number(ms));
    }
    functions.push({ function: name, bytes, kb: round(bytes / 1024, 1), gzipKb: round(zlib.gzipSync(fs.readFileSync(outfile)).length / 1024, 1), initMs: round(Math.min(...inits), 1) });
  }
  let client: Record<string, unknown> | undefined;
  const clientEntry = path.join(root, 'client', 'src', 'index.ts');
  if (fs.existsSync(clientEntry)) {
    const outfile = path.join(out, 'client.js');
    await build({ entryPoints: [clientEntry], bundle: true, minify: true, format: 'esm', target: 'es2020', outfile, logLevel: 'silent' });
    const buf = fs.readFileSync(outfile);
    client = { minKb: round(buf.length / 1024, 2), minGzipKb: round(zlib.gzipSync(buf, { level: 9 }).length / 1024, 2) };
  }
  fs.rmSync(out, { recursive: true, force: true });
  return {
    scenario: 'size',
    summary: `size: ${functions.map((f) => `${f.function} ${f.kb} KB (init ${f.initMs} ms)`).join(', ')}${client ? `; client ${client.minGzipKb} KB min+gzip` : ''}`,
    parameters: { bundler: 'esbuild', minify: true, awsSdk: 'bundled', target: 'node22' },
    figures: { functions, client },
  };
}
