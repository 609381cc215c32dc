import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FUNCTIONS } from '../../shared/routes';
import { pipelineViolations } from './pipeline-invariants';
import type { CfnProperties } from './synth';

/**
 * The construct as a package, as another team gets it: `npm pack` this project (prepack builds
 * dist/ and client/dist), install the tarball into a fresh CDK app in a temporary directory outside
 * the repository, synthesize a stack that uses the construct with the app's own table and topic, and
 * look at the template. The app gets only what the tarball declares (zod) and its peers (aws-cdk-lib,
 * constructs): no esbuild, no cdk-nag, no tsx, so synth works only if the package ships its bundles.
 *
 * npm installs from its cache (`--offline`); where the cache lacks a package's metadata (a fresh CI
 * machine after `npm ci` holds the tarballs), it falls back to `--prefer-offline`, which asks the
 * registry for the metadata only.
 */
const ROOT = path.resolve(__dirname, '../..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-pack-'));
const appDir = path.join(work, 'app');
const outdir = path.join(work, 'cdk.out');

const run = (cmd: string, args: string[], cwd: string, timeout = 240_000): SpawnSyncReturns<string> =>
  spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout,
    env: { ...process.env, npm_config_update_notifier: 'false', CDK_DISABLE_CLI_TELEMETRY: 'true' },
  });
const failure = (r: SpawnSyncReturns<string>) => ({
  status: r.status,
  out: `${r.stdout ?? ''}${r.stderr ?? ''}`.slice(-3000),
});

let tarball: string;
let packedFiles: string[];
let installMode: string;
let template: { Resources: Record<string, { Type: string; Properties?: CfnProperties }> };

const CONSUMER_APP = `
const { App, RemovalPolicy, Stack } = require('aws-cdk-lib');
const dynamodb = require('aws-cdk-lib/aws-dynamodb');
const sns = require('aws-cdk-lib/aws-sns');
const { Switchboard } = require('switchboard');

const app = new App({ outdir: process.argv[2] });
const stack = new Stack(app, 'Consumer');
const table = new dynamodb.Table(stack, 'BookingsRealtime', {
  partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
  sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
  timeToLiveAttribute: 'ttl',
  billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
  removalPolicy: RemovalPolicy.DESTROY,
});
const topic = new sns.Topic(stack, 'BookingEvents', { enforceSSL: true });
new Switchboard(stack, 'Realtime', { existingTable: table, existingTopic: topic, removalPolicy: RemovalPolicy.DESTROY, apiGatewayCloudWatchRole: 'existing' });
app.synth();
`;

// Type-checked, not run: the construct from CommonJS TypeScript, the client from an ES module.
const CONSUMER_TS = `
import { App, Stack } from 'aws-cdk-lib';
import { Switchboard, type SwitchboardProps, PIPELINE } from 'switchboard';
const props: SwitchboardProps = { stageName: 'live', deliveryLanes: PIPELINE.delivery.maxConcurrency, functions: { deliver: { memorySize: 2048 } } };
const sb: Switchboard = new Switchboard(new Stack(new App(), 'S'), 'Realtime', props);
export const url: string = sb.webSocketStage.url;
`;
const BROWSER_MTS = `
import { SwitchboardClient, type SwitchboardOptions, type State } from 'switchboard/client';
export const options: Partial<SwitchboardOptions> = {};
export const state: State | undefined = undefined;
export const client: typeof SwitchboardClient = SwitchboardClient;
`;

beforeAll(() => {
  const pack = run('npm', ['pack', '--json', '--pack-destination', work], ROOT);
  if (pack.status !== 0) throw new Error(`npm pack failed: ${JSON.stringify(failure(pack))}`);
  const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarball = path.join(work, info!.filename);
  packedFiles = info!.files.map((f) => f.path);

  fs.mkdirSync(appDir);
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version: string }>;
  };
  const version = (name: string) => lock.packages[`node_modules/${name}`]!.version;
  fs.writeFileSync(
    path.join(appDir, 'package.json'),
    JSON.stringify({
      name: 'consumer',
      version: '1.0.0',
      private: true,
      dependencies: {
        switchboard: `file:${tarball}`,
        'aws-cdk-lib': version('aws-cdk-lib'),
        constructs: version('constructs'),
      },
    }),
  );
  installMode = '--offline';
  let install = run('npm', ['install', '--offline', '--no-audit', '--no-fund'], appDir);
  if (install.status !== 0) {
    installMode = '--prefer-offline';
    install = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], appDir);
  }
  if (install.status !== 0) throw new Error(`npm install of the tarball failed: ${JSON.stringify(failure(install))}`);

  fs.writeFileSync(path.join(appDir, 'app.js'), CONSUMER_APP);
  const synth = run(process.execPath, ['app.js', outdir], appDir, 120_000);
  if (synth.status !== 0) throw new Error(`synth in the consumer app failed: ${JSON.stringify(failure(synth))}`);
  template = JSON.parse(fs.readFileSync(path.join(outdir, 'Consumer.template.json'), 'utf8'));
}, 420_000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('the tarball holds the compiled construct, one bundle per function, the client and docs; no sources, tests or local runtime', () => {
  console.log(
    `npm pack: ${path.basename(tarball)}, ${(fs.statSync(tarball).size / 1e6).toFixed(1)} MB, ${packedFiles.length} files; installed with npm install ${installMode}`,
  );
  for (const name of FUNCTIONS)
    expect(packedFiles).toEqual(
      expect.arrayContaining([`dist/functions/${name}/index.js`, `dist/functions/${name}/index.js.map`]),
    );
  expect(packedFiles).toEqual(
    expect.arrayContaining([
      'package.json',
      'README.md',
      'dist/infra/index.js',
      'dist/infra/index.d.ts',
      'client/dist/switchboard.mjs',
      'client/dist/switchboard.d.mts',
      'docs/deploy.md',
    ]),
  );
  expect(
    packedFiles.filter(
      (f) => /^(test|local|bench|functions|shared|infra)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')),
    ),
  ).toEqual([]);
});

test('the installed package needs no dev tool: zod and its peers only', () => {
  const installed = JSON.parse(
    fs.readFileSync(path.join(appDir, 'node_modules/switchboard/package.json'), 'utf8'),
  ) as Record<string, Record<string, string>>;
  expect(Object.keys(installed.dependencies!)).toEqual(['zod']);
  expect(Object.keys(installed.peerDependencies!).sort()).toEqual(['aws-cdk-lib', 'constructs']);
  for (const tool of ['esbuild', 'cdk-nag', 'tsx', 'typescript'])
    expect(fs.existsSync(path.join(appDir, 'node_modules', tool))).toBe(false);
  const compiled = fs
    .readdirSync(path.join(appDir, 'node_modules/switchboard/dist/infra'))
    .filter((f) => f.endsWith('.js'));
  for (const f of compiled)
    expect(`${f}: ${fs.readFileSync(path.join(appDir, 'node_modules/switchboard/dist/infra', f), 'utf8')}`).not.toMatch(
      /require\("(cdk-nag|esbuild)/,
    );
});

test("synth uses the app's table and topic and creates neither", () => {
  const byType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
  expect(byType('AWS::DynamoDB::Table').map(([id]) => id)).toEqual([expect.stringMatching(/^BookingsRealtime/)]);
  const tableId = byType('AWS::DynamoDB::Table')[0]![0];
  const functions = byType('AWS::Lambda::Function');
  expect(functions).toHaveLength(FUNCTIONS.length);
  for (const [, fn] of functions) {
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Handler: 'index.handler', Architectures: ['arm64'] });
    expect(fn.Properties!.Environment.Variables.SWITCHBOARD_TABLE_NAME).toEqual({ Ref: tableId });
  }
  const subscriptions = byType('AWS::SNS::Subscription').map(([, s]) => s.Properties!);
  expect(subscriptions).toEqual([
    expect.objectContaining({
      Protocol: 'sqs',
      RawMessageDelivery: false,
      TopicArn: { Ref: expect.stringMatching(/^BookingEvents/) },
    }),
  ]);
  expect(
    byType('AWS::SNS::Topic').map(([id, t]) => t.Properties?.DisplayName ?? id.replace(/[0-9A-F]{8}$/, '')),
  ).toEqual(['BookingEvents', 'Switchboard alarms']);
  expect(byType('AWS::ApiGateway::Account')).toEqual([]);
  expect(pipelineViolations(template.Resources)).toEqual([]);
});

test('every function ships as the prebuilt bundle, which loads and exports handler', () => {
  const assets = Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::Lambda::Function')
    .map((fn) => path.join(outdir, `asset.${String(fn.Properties!.Code.S3Key).replace(/\.zip$/, '')}`));
  expect(new Set(assets).size).toBe(FUNCTIONS.length);
  for (const asset of assets) {
    expect(fs.readdirSync(asset).sort()).toEqual(['index.js', 'index.js.map']);
    const loaded = run(
      process.execPath,
      ['-e', `process.stdout.write(typeof require(${JSON.stringify(path.join(asset, 'index.js'))}).handler)`],
      work,
      30_000,
    );
    expect(loaded.stdout).toBe('function');
  }
});

test('types: the construct from TypeScript (CommonJS), the client from an ES module, with library checks on', () => {
  fs.writeFileSync(path.join(appDir, 'consumer.ts'), CONSUMER_TS);
  fs.writeFileSync(path.join(appDir, 'browser.mts'), BROWSER_MTS);
  fs.writeFileSync(
    path.join(appDir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2022', 'esnext.disposable', 'dom'],
        types: [],
      },
      files: ['consumer.ts', 'browser.mts'],
    }),
  );
  const tsc = run(
    process.execPath,
    [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'],
    appDir,
    120_000,
  );
  expect(failure(tsc)).toEqual({ status: 0, out: '' });
});

test('the client subpath loads as an ES module in Node and exports the client', () => {
  const loaded = run(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "const m = await import('switchboard/client'); console.log(Object.keys(m).sort().join(','))",
    ],
    appDir,
    30_000,
  );
  expect(failure(loaded).status).toBe(0);
  expect(loaded.stdout.trim().split(',')).toEqual(
    expect.arrayContaining(['SwitchboardClient', 'backoffDelay', 'CLOSE']),
  );
});
