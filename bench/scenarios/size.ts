import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { esbuildOptions } from '../../infra/esbuild-options';
import { BUNDLING } from '../../infra/functions';
import { FUNCTIONS } from '../../shared/routes';
import { round, type ScenarioResult } from '../lib';

/**
 * Bundle size of each Lambda as the CDK stack ships it (esbuild with the stack's BUNDLING settings,
 * infra/functions.ts: the AWS SDK bundled except the two start-up-only clients and the event-stream
 * serde, the default credential chain swapped for the environment's), the deployed
 * asset (index.js + index.js.map, zipped), each handler's module init time in a fresh Node process
 * (median of `runs`), and the same for the alternative: every `@aws-sdk/*` package taken from the
 * Lambda runtime's SDK instead (emulated with NODE_PATH pointing at this repository's node_modules,
 * as Lambda's NODE_PATH points at /var/runtime/node_modules). Also the browser client (min+gzip).
 */
const root = path.join(__dirname, '../..');

function initOnce(outfile: string): number {
  const ms = execFileSync(
    process.execPath,
    [
      '-e',
      `const t=performance.now();require(${JSON.stringify(outfile)});process.stdout.write(String(performance.now()-t))`,
    ],
    {
      cwd: path.dirname(outfile),
      env: { ...process.env, NODE_PATH: path.join(root, 'node_modules') },
    },
  ).toString();
  return Number(ms);
}

/** Median init of each file over `runs`, the files measured in turn (so a load spike hits both alike). */
function medianInits(files: string[], runs: number): number[] {
  const samples = files.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) files.forEach((f, k) => samples[k]?.push(initOnce(f)));
  return samples.map((s) => s.sort((a, b) => a - b)[Math.floor(runs / 2)] as number);
}

async function bundle(name: string, outfile: string, external: readonly string[]) {
  await build({ ...esbuildOptions(name, root), external: [...external], outfile, logLevel: 'silent' });
  const bytes = fs.statSync(outfile).size;
  const zip = path.join(path.dirname(outfile), `${name}.zip`);
  execFileSync('zip', ['-q', '-j', '-9', zip, outfile, `${outfile}.map`]);
  return {
    bytes,
    kb: round(bytes / 1024, 1),
    gzipKb: round(zlib.gzipSync(fs.readFileSync(outfile)).length / 1024, 1),
    mapKb: round(fs.statSync(`${outfile}.map`).size / 1024, 1),
    zipKb: round(fs.statSync(zip).size / 1024, 1),
  };
}

export async function runSize(runs = 7): Promise<ScenarioResult> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-size-'));
  const functions: Record<string, string | number>[] = [];
  const runtimeSdk: Record<string, string | number>[] = [];
  for (const name of FUNCTIONS) {
    fs.mkdirSync(path.join(out, 'shipped', name), { recursive: true });
    fs.mkdirSync(path.join(out, 'runtime-sdk', name), { recursive: true });
    const shipped = path.join(out, 'shipped', name, 'index.js');
    const alt = path.join(out, 'runtime-sdk', name, 'index.js');
    const sizes = [await bundle(name, shipped, BUNDLING.externalModules), await bundle(name, alt, ['@aws-sdk/*'])];
    const [initShipped, initAlt] = medianInits([shipped, alt], runs);
    functions.push({ function: name, ...sizes[0], initMs: round(initShipped as number, 1) });
    runtimeSdk.push({ function: name, ...sizes[1], initMs: round(initAlt as number, 1) });
  }
  let client: Record<string, number> | undefined;
  const clientEntry = path.join(root, 'client', 'src', 'index.ts');
  if (fs.existsSync(clientEntry)) {
    const outfile = path.join(out, 'client.js');
    await build({
      entryPoints: [clientEntry],
      bundle: true,
      minify: true,
      format: 'esm',
      target: 'es2020',
      outfile,
      logLevel: 'silent',
    });
    const buf = fs.readFileSync(outfile);
    client = {
      minKb: round(buf.length / 1024, 2),
      minGzipKb: round(zlib.gzipSync(buf, { level: 9 }).length / 1024, 2),
    };
  }
  fs.rmSync(out, { recursive: true, force: true });
  return {
    scenario: 'size',
    summary: `size: ${functions.map((f) => `${f.function} ${f.kb} KB, zip ${f.zipKb} KB (init ${f.initMs} ms)`).join(', ')}; with the runtime's SDK: ${runtimeSdk.map((f) => `${f.function} ${f.kb} KB (init ${f.initMs} ms)`).join(', ')}${client ? `; client ${client.minGzipKb} KB min+gzip` : ''}`,
    parameters: {
      bundler: 'esbuild',
      minify: BUNDLING.minify,
      awsSdk: 'bundled (pinned)',
      external: BUNDLING.externalModules,
      alias: Object.keys(BUNDLING.alias),
      target: BUNDLING.target,
      initRuns: runs,
      initStatistic: 'median',
    },
    figures: { functions, runtimeSdk, client },
  };
}
