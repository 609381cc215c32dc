import { build } from 'esbuild';
import { BUNDLE_BUDGET_BYTES, esbuildOptions } from '../../infra/esbuild-options';
import { FUNCTIONS, type FunctionName } from '../../shared/routes';
import { NEVER_BUNDLED } from './bundle-rules';

/**
 * Every function's bundle as BUNDLING builds it (infra/esbuild-options.ts: `npm run build`, the size
 * benchmark; NodejsFunction passes the same settings, checked on its real output by the `npx cdk
 * synth` test in app.test.ts): within the size budget, without the SDK's default credential chain,
 * and holding the libraries only some functions need only where they are needed
 * (docs/performance.md, "Bundles").
 */
/** The libraries only some functions use (shared/runtime.ts, OnDemand), and which functions those are. */
const ONLY_IN: Record<string, readonly FunctionName[]> = {
  jose: ['connect', 'http'],
  '@aws-sdk/client-sqs': ['fanout', 'sequencer', 'deliver'],
};

const bundles = new Map<FunctionName, { bytes: number; inputs: string[] }>();

beforeAll(async () => {
  for (const name of FUNCTIONS) {
    const r = await build({
      ...esbuildOptions(name),
      outfile: `${name}/index.js`,
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const js = r.outputFiles.find((f) => f.path.endsWith('index.js'));
    const out = Object.values(r.metafile.outputs).find((o) => o.entryPoint !== undefined);
    bundles.set(name, {
      bytes: js?.contents.length ?? 0,
      inputs: Object.entries(out?.inputs ?? {})
        .filter(([, i]) => i.bytesInOutput > 0)
        .map(([p]) => p),
    });
  }
}, 120_000);

const bundle = (name: FunctionName) => bundles.get(name) as { bytes: number; inputs: string[] };

test.each(FUNCTIONS)(`%s is at most ${BUNDLE_BUDGET_BYTES / 1024} KB minified`, (name) => {
  expect(bundle(name).bytes).toBeGreaterThan(100_000); // it did bundle the SDK
  expect(bundle(name).bytes).toBeLessThanOrEqual(BUNDLE_BUDGET_BYTES);
});

test.each(FUNCTIONS)('%s reads credentials from the environment only: no default credential chain', (name) => {
  const { inputs } = bundle(name);
  expect(inputs.filter((p) => NEVER_BUNDLED.test(p))).toEqual([]);
  expect(inputs).toContain('shared/env-credentials.ts');
  expect(inputs).toContain('node_modules/@aws-sdk/credential-provider-env/dist-es/fromEnv.js');
});

test.each(Object.entries(ONLY_IN))('%s is bundled only where it is used', (pkg, where) => {
  const holding = FUNCTIONS.filter((name) => bundle(name).inputs.some((p) => p.startsWith(`node_modules/${pkg}/`)));
  expect(holding).toEqual(FUNCTIONS.filter((name) => where.includes(name)));
});
