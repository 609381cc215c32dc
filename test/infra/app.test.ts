import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { appSettings } from '../../infra/app-context';
import { BUNDLE_BUDGET_BYTES } from '../../infra/esbuild-options';
import { BUNDLING, NODE_RUNTIME } from '../../infra/functions';
import { FUNCTIONS } from '../../shared/routes';
import { NEVER_BUNDLED } from './bundle-rules';
import type { CfnProperties } from './synth';

const ROOT = path.resolve(__dirname, '../..');

describe('app context → construct props', () => {
  test('nothing configured: a generated secret and the construct defaults', () => {
    expect(appSettings({}, {})).toEqual({
      stackName: 'Switchboard',
      props: expect.objectContaining({
        jwtSecret: undefined,
        removalPolicy: undefined,
        logRetention: undefined,
        apiGatewayCloudWatchRole: undefined,
      }),
    });
  });

  test('every key is read', () => {
    const { stackName, props } = appSettings(
      {
        stackName: 'SwitchboardStaging',
        jwtSecretParameter: '/switchboard/jwt',
        jwksUrl: 'https://auth.example.com/jwks.json',
        jwtIssuer: 'https://auth.example.com/',
        jwtAudience: 'switchboard',
        corsOrigins: 'https://a.example.com, https://b.example.com',
        alarmEmail: 'ops@example.com',
        deliveryLanes: '32',
        shardSize: '250',
        deliverMaxConcurrency: '24',
        removalPolicy: 'destroy',
        logRetentionDays: '14',
        apiGatewayCloudWatchRole: 'existing',
      },
      {},
    );
    expect(stackName).toBe('SwitchboardStaging');
    expect(props).toEqual({
      jwtSecret: { parameterName: '/switchboard/jwt' },
      jwksUrl: 'https://auth.example.com/jwks.json',
      jwtIssuer: 'https://auth.example.com/',
      jwtAudience: 'switchboard',
      corsOrigins: ['https://a.example.com', 'https://b.example.com'],
      alarmEmail: 'ops@example.com',
      deliveryLanes: 32,
      shardSize: 250,
      deliverMaxConcurrency: 24,
      removalPolicy: RemovalPolicy.DESTROY,
      logRetention: RetentionDays.TWO_WEEKS,
      apiGatewayCloudWatchRole: 'existing',
    });
    expect(appSettings({ jwksUrl: 'https://k', jwksOnly: 'true' }, {}).props).toMatchObject({
      jwtSecret: { jwksOnly: true },
    });
  });

  test('apiGatewayCloudWatchRole: create, existing or none; true and false still mean create and existing', () => {
    for (const v of ['create', 'existing', 'none'] as const)
      expect(appSettings({ apiGatewayCloudWatchRole: v }, {}).props.apiGatewayCloudWatchRole).toBe(v);
    expect(appSettings({ apiGatewayCloudWatchRole: 'true' }, {}).props.apiGatewayCloudWatchRole).toBe('create');
    expect(appSettings({ apiGatewayCloudWatchRole: 'false' }, {}).props.apiGatewayCloudWatchRole).toBe('existing');
  });

  test('the secret location may come from the environment; -c wins over it', () => {
    expect(appSettings({}, { SWITCHBOARD_JWT_SECRET_ARN: 'switchboard/jwt' }).props.jwtSecret).toEqual({
      secretArn: 'switchboard/jwt',
    });
    expect(appSettings({}, { SWITCHBOARD_JWT_SECRET_PARAMETER: '/sb/jwt' }).props.jwtSecret).toEqual({
      parameterName: '/sb/jwt',
    });
    expect(
      appSettings({ jwtSecretParameter: '/from/context' }, { SWITCHBOARD_JWT_SECRET_ARN: 'from-env' }).props.jwtSecret,
    ).toEqual({ parameterName: '/from/context' });
    // A plain value in the shell does not matter once the location is configured.
    expect(
      appSettings({ jwtSecretArn: 'switchboard/jwt' }, { SWITCHBOARD_JWT_SECRET: 'local-dev-secret' }).props.jwtSecret,
    ).toEqual({ secretArn: 'switchboard/jwt' });
  });

  test("the secret's customer-managed KMS key goes with the secret or parameter", () => {
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    expect(appSettings({ jwtSecretArn: 'sb/jwt', jwtSecretKmsKeyArn: key }, {}).props.jwtSecret).toEqual({
      secretArn: 'sb/jwt',
      encryptionKey: key,
    });
    expect(appSettings({ jwtSecretParameter: '/sb/jwt', jwtSecretKmsKeyArn: key }, {}).props.jwtSecret).toEqual({
      parameterName: '/sb/jwt',
      encryptionKey: key,
    });
    expect(() => appSettings({ jwtSecretKmsKeyArn: key }, {})).toThrow(
      /jwtSecretKmsKeyArn names the key of your own secret/,
    );
  });

  test('a plain secret value is refused, the local default with its own reason', () => {
    expect(() => appSettings({ jwtSecret: 'local-dev-secret' }, {})).toThrow(
      /-c jwtSecret gives a plain secret value.*"local-dev-secret" is the public local-mode default.*jwtSecretArn/,
    );
    expect(() => appSettings({ jwtSecret: 'x'.repeat(40) }, {})).toThrow(
      /plain secret value, which is refused: a secret value would be written into the CloudFormation template/,
    );
    expect(() => appSettings({}, { SWITCHBOARD_JWT_SECRET: 'local-dev-secret' })).toThrow(
      /SWITCHBOARD_JWT_SECRET gives a plain secret value.*local-mode default/,
    );
  });

  test('contradictory, mistyped or invalid values fail with a message naming the key', () => {
    expect(() => appSettings({ jwtSecretArn: 'a', jwtSecretParameter: 'b' }, {})).toThrow(
      /either jwtSecretArn or jwtSecretParameter/,
    );
    expect(() => appSettings({}, { SWITCHBOARD_JWT_SECRET_ARN: 'a', SWITCHBOARD_JWT_SECRET_PARAMETER: 'b' })).toThrow(
      /either jwtSecretArn or jwtSecretParameter/,
    );
    expect(() => appSettings({ jwtSecretARN: 'a' }, {})).toThrow(/unknown context key "jwtSecretARN"/);
    expect(() => appSettings({ deliveryLanes: '0' }, {})).toThrow(/deliveryLanes must be a positive integer/);
    expect(() => appSettings({ fanoutReservedConcurrency: '20' }, {})).toThrow(
      /fanoutReservedConcurrency is gone.*event source mappings bound it \(deliverMaxConcurrency\)/,
    );
    expect(() => appSettings({ removalPolicy: 'snapshot' }, {})).toThrow(/removalPolicy must be retain or destroy/);
    expect(() => appSettings({ apiGatewayCloudWatchRole: 'yes' }, {})).toThrow(
      /apiGatewayCloudWatchRole must be create, existing or none/,
    );
    expect(() => appSettings({ logRetentionDays: '31' }, {})).toThrow(/logRetentionDays must be one of .*30, 60/);
  });
});

/**
 * What CI and operators run: the CDK CLI reads cdk.json, runs infra/app.ts, bundles every function
 * with the local esbuild (the only test that really bundles) and runs cdk-nag as the app registers
 * it, with no AWS credentials or region anywhere.
 */
describe('npx cdk synth', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-synth-'));
  let run: ReturnType<typeof spawnSync>;
  let template: {
    Resources: Record<string, { Type: string; Properties: CfnProperties }>;
    Outputs: Record<string, unknown>;
  };

  beforeAll(() => {
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('CDK_')),
    );
    Object.assign(env, {
      AWS_CONFIG_FILE: path.join(outdir, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(outdir, 'none'),
      CDK_DISABLE_CLI_TELEMETRY: 'true',
    });
    run = spawnSync(
      path.join(ROOT, 'node_modules/.bin/cdk'),
      ['synth', '--quiet', '--no-notices', '--output', outdir],
      { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 },
    );
    if (run.status === 0)
      template = JSON.parse(fs.readFileSync(path.join(outdir, 'Switchboard.template.json'), 'utf8'));
  }, 130_000);

  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  test('succeeds offline without credentials, and cdk-nag reports nothing', () => {
    expect({ status: run.status, stderr: run.status === 0 ? '' : String(run.stderr).slice(-3000) }).toEqual({
      status: 0,
      stderr: '',
    });
    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: unknown[];
    };
    expect(report.pluginReports).toEqual([]);
    expect(Object.keys(template.Outputs).sort()).toEqual([
      'AlarmTopicArn',
      'HttpUrl',
      'JwtSecretArn',
      'PublisherPolicyArn',
      'TableName',
      'TopicArn',
      'WebSocketUrl',
    ]);
  });

  test('every function is bundled into one minified index.js with a source map, exporting handler', () => {
    const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(functions).toHaveLength(FUNCTIONS.length);
    for (const fn of functions) {
      const asset = path.join(outdir, `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`);
      expect(fs.readdirSync(asset).sort()).toEqual(['index.js', 'index.js.map']);
      const code = fs.readFileSync(path.join(asset, 'index.js'), 'utf8');
      // Minified: esbuild indents every nested line of unminified output; minified output has long
      // lines and no indentation outside template literals.
      const lines = code.split('\n');
      expect(lines.filter((l) => /^\s+\S/.test(l)).length / lines.length).toBeLessThan(0.2);
      const loaded = spawnSync(
        process.execPath,
        ['-e', `process.stdout.write(typeof require(${JSON.stringify(path.join(asset, 'index.js'))}).handler)`],
        { encoding: 'utf8' },
      );
      expect(loaded.stdout).toBe('function');
    }
  });

  test(`every bundle is at most ${BUNDLE_BUDGET_BYTES / 1024} KB and reads credentials from the environment only`, () => {
    const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    for (const fn of functions) {
      const asset = path.join(outdir, `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`);
      expect(fs.statSync(path.join(asset, 'index.js')).size).toBeLessThanOrEqual(BUNDLE_BUDGET_BYTES);
      const { sources } = JSON.parse(fs.readFileSync(path.join(asset, 'index.js.map'), 'utf8')) as {
        sources: string[];
      };
      expect(sources.filter((s) => NEVER_BUNDLED.test(s))).toEqual([]);
      expect(sources.some((s) => s.endsWith('shared/env-credentials.ts'))).toBe(true);
    }
  });
});

test('.ci/run runs the suite again on the Node major the functions run on', () => {
  const ci = fs.readFileSync(path.join(ROOT, '.ci/run'), 'utf8');
  const major = ci.match(/^LAMBDA_NODE_MAJOR=(\d+)$/m)?.[1];
  expect(`nodejs${major}.x`).toBe(NODE_RUNTIME.name);
  expect(BUNDLING.target).toBe(`node${major}`);
});
