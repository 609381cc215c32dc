import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { common, ESM_GZIP_BUDGET } from '../../client/build';

/** The client stays small: the ES module as `npm run build:client` makes it, within its gzip budget. */
test(`the ES module is at most ${ESM_GZIP_BUDGET} bytes minified and gzipped`, async () => {
  const r = await build({ ...common, format: 'esm', write: false });
  const code = r.outputFiles?.[0]?.contents ?? new Uint8Array();
  expect(code.length).toBeGreaterThan(10_000); // it did bundle the client
  expect(gzipSync(code, { level: 9 }).length).toBeLessThanOrEqual(ESM_GZIP_BUDGET);
});
