import path from 'node:path';
import type { BuildOptions } from 'esbuild';
import { BUNDLING } from './functions';

/** Each function's index.js at most (minified): test/infra/bundles.test.ts and the `npx cdk synth` test hold it. */
export const BUNDLE_BUDGET_BYTES = 300 * 1024;

/**
 * esbuild's options for one function's bundle, from BUNDLING: the build NodejsFunction runs at synth
 * in a checkout (infra/functions.ts), for infra/build.ts, the size benchmark and the bundle tests.
 * Add `outfile` (or `write: false`) and whatever else the caller needs.
 */
export function esbuildOptions(name: string, root: string = path.resolve(__dirname, '..')): BuildOptions {
  return {
    entryPoints: [path.join(root, 'functions', `${name}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: BUNDLING.target,
    minify: BUNDLING.minify,
    sourcemap: BUNDLING.sourcemap,
    sourcesContent: BUNDLING.sourcesContent,
    mainFields: [...BUNDLING.mainFields],
    external: [...BUNDLING.externalModules],
    alias: { ...BUNDLING.alias },
  };
}
