/**
 * Builds the browser client into client/dist: switchboard.mjs (ESM), switchboard.js (IIFE, global
 * `Switchboard`), both minified, plus .d.ts types (dist/types/, with the wire contract shared/wire.ts); then prints each bundle's minified and gzip size.
 * Run: npm run build:client
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions } from 'esbuild';

const dist = path.join(__dirname, 'dist');

/** What the budget allows for the ES module, minified and gzipped (issue 13: sharing included). */
export const ESM_GZIP_BUDGET = 6 * 1024;

export const common: BuildOptions = {
  entryPoints: [path.join(__dirname, 'src/index.ts')],
  bundle: true,
  minify: true,
  // Members whose name starts with `_` are internal (never API, options or wire fields): the minifier
  // shortens them, as it does local names. About 400 bytes min+gzip less.
  mangleProps: /^_/,
  platform: 'browser',
  target: 'es2020',
  legalComments: 'none',
  logLevel: 'warning',
};

async function main(): Promise<void> {
  rmSync(dist, { recursive: true, force: true });
  await build({ ...common, format: 'esm', outfile: path.join(dist, 'switchboard.mjs') });
  await build({ ...common, format: 'iife', globalName: 'Switchboard', outfile: path.join(dist, 'switchboard.js') });
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', path.join(__dirname, 'tsconfig.build.json')],
    { stdio: 'inherit' },
  );
  // Types for `import ... from '.../switchboard.mjs'` (and the IIFE): tsc keeps the source layout under dist/types.
  writeFileSync(path.join(dist, 'switchboard.d.mts'), "export * from './types/client/src/index.js';\n");
  for (const file of ['switchboard.mjs', 'switchboard.js']) {
    const code = readFileSync(path.join(dist, file));
    const gzipped = gzipSync(code, { level: 9 }).length;
    console.log(`client/dist/${file}: ${code.length} bytes minified, ${gzipped} bytes min+gzip`);
    if (file.endsWith('.mjs') && gzipped > ESM_GZIP_BUDGET)
      throw new Error(`the ES module is ${gzipped} bytes min+gzip, over its budget of ${ESM_GZIP_BUDGET}`);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
