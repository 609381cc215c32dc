/**
 * Builds what the npm package ships (`npm run build`; `npm pack` runs it as `prepack`):
 *   dist/infra, dist/shared      the construct compiled to JavaScript with .d.ts (tsconfig.package.json)
 *   dist/functions/<name>/       one bundle per entry point of FUNCTIONS: index.js + index.js.map, built by
 *                                esbuild with the settings NodejsFunction uses in a checkout (BUNDLING), so
 *                                an app that installs the package synthesizes without esbuild or Docker
 *   client/dist                  the browser client (client/build.ts), the `switchboard/client` export
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { FUNCTIONS } from '../shared/routes';
import { esbuildOptions } from './esbuild-options';

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');

async function main(): Promise<void> {
  rmSync(DIST, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.package.json')],
    { stdio: 'inherit' },
  );
  for (const name of FUNCTIONS) {
    await build({
      ...esbuildOptions(name, ROOT),
      outfile: path.join(DIST, 'functions', name, 'index.js'),
      logLevel: 'warning',
    });
  }
  execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'client', 'build.ts')], {
    stdio: 'inherit',
    cwd: ROOT,
  });
  console.log(`built dist/infra, dist/shared, dist/functions/{${FUNCTIONS.join(',')}} and client/dist`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
