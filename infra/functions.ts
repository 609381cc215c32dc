import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { FUNCTION_SETTINGS } from '../shared/pipeline';
import type { FunctionName } from '../shared/routes';

/**
 * Where a function's code comes from, resolved from this file's own location (never the caller's
 * working directory), so the construct synthesizes the same from this repository and from an app
 * that installed the npm package:
 * - in the package, `dist/infra/functions.js` finds the prebuilt bundle `dist/functions/<name>/index.js`
 *   (built by `npm run build`, infra/build.ts, with BUNDLING below); the app needs no esbuild;
 * - in this repository, `infra/functions.ts` finds the entry point `functions/<name>.ts` and bundles it
 *   at synth with the locally installed esbuild (NodejsFunction, same BUNDLING; no Docker).
 */
export type HandlerCode = { kind: 'prebuilt'; dir: string } | { kind: 'source'; entry: string; projectRoot: string };

export function handlerCode(name: FunctionName, baseDir: string = path.resolve(__dirname, '..')): HandlerCode {
  const bundle = path.join(baseDir, 'functions', name);
  if (fs.existsSync(path.join(bundle, 'index.js'))) return { kind: 'prebuilt', dir: bundle };
  const entry = path.join(baseDir, 'functions', `${name}.ts`);
  if (fs.existsSync(entry)) return { kind: 'source', entry, projectRoot: baseDir };
  throw new Error(
    `Switchboard: no code for the ${name} function: neither ${path.join(bundle, 'index.js')} (package) nor ${entry} (source checkout)`,
  );
}

/**
 * The newest Node.js runtime this aws-cdk-lib offers (Lambda: Node.js 22 or newer; cdk-nag's
 * AwsSolutions-L1 asks for the newest too). The test suite also runs on this major (`.ci/run`), and
 * the bundles are built for it.
 */
export const NODE_RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * esbuild settings shared by NodejsFunction (source checkout, below), infra/build.ts (the package's
 * prebuilt bundles) and the size benchmark (bench/scenarios/size.ts), through `esbuildOptions` in
 * infra/esbuild-options.ts for the last two. What each one is for: docs/performance.md, "Bundles".
 */
export const BUNDLING = {
  target: 'node24',
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  // ESM builds of the AWS SDK tree-shake better. The SDK is bundled (not taken from the runtime) so
  // Lambda runs the versions package-lock.json pins and the tests ran, and because one minified file
  // loads about twice as fast as the runtime's unbundled SDK (docs/performance.md, "Bundles").
  mainFields: ['module', 'main'],
  externalModules: [
    // The two clients that read the token secret once, at a cold start, and only when the stack
    // keeps it in Secrets Manager or SSM (shared/secret-source.ts imports them on demand): a third of
    // every bundle otherwise. They come from the Lambda runtime's SDK (GetSecretValue and GetParameter
    // have not changed in years); the hot path (DynamoDB, SQS, @connections) stays pinned.
    '@aws-sdk/client-secrets-manager',
    '@aws-sdk/client-ssm',
    // Event-stream serde (about 19 KB), which @smithy/core's protocols import on demand, for
    // operations with an event stream only. None of the calls the functions make (DynamoDB, SQS) has
    // one; a call that had would have to find it in the runtime's node_modules (Lambda's NODE_PATH).
    '@smithy/core/event-streams',
  ],
  alias: {
    // The SDK's default credential chain (SSO, ini files, processes, web identity, container and
    // instance metadata, with the STS and SSO clients they use) gives way to the environment
    // provider, the only source Lambda uses: shared/env-credentials.ts.
    '@aws-sdk/credential-provider-node': path.resolve(__dirname, '..', 'shared', 'env-credentials'),
    // mnemonist's LRU cache, under the endpoint cache the DynamoDB client builds for endpoint
    // discovery (never turned on here), gives way to a Map: shared/lru-cache.ts.
    'mnemonist/lru-cache': path.resolve(__dirname, '..', 'shared', 'lru-cache'),
  },
} as const;

export interface SwitchboardFunctionOptions {
  readonly environment: Record<string, string>;
  readonly memorySize: number;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * One function per entry point: NODE_RUNTIME on arm64, timeout from FUNCTION_SETTINGS, its own role
 * (no managed policies) that may write only to its own log group, JSON logs.
 */
export function switchboardFunction(
  scope: Construct,
  name: FunctionName,
  opts: SwitchboardFunctionOptions,
): lambda.Function {
  const id = name.charAt(0).toUpperCase() + name.slice(1);
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
    retention: opts.logRetention,
    removalPolicy: opts.removalPolicy,
  });
  const role = new iam.Role(scope, `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `Switchboard ${name} function`,
  });
  // Instead of AWSLambdaBasicExecutionRole (logs in any group): write to this function's group only.
  logGroup.grantWrite(role);
  const common: lambda.FunctionOptions = {
    description: `Switchboard ${name}`,
    architecture: lambda.Architecture.ARM_64,
    timeout: Duration.seconds(FUNCTION_SETTINGS[name].timeoutSeconds),
    memorySize: opts.memorySize,
    role,
    logGroup,
    loggingFormat: lambda.LoggingFormat.JSON,
    environment: { ...opts.environment, NODE_OPTIONS: '--enable-source-maps' },
  };
  const code = handlerCode(name);
  const fn =
    code.kind === 'prebuilt'
      ? new lambda.Function(scope, `${id}Function`, {
          ...common,
          runtime: NODE_RUNTIME,
          handler: 'index.handler',
          code: lambda.Code.fromAsset(code.dir),
        })
      : new NodejsFunction(scope, `${id}Function`, {
          ...common,
          runtime: NODE_RUNTIME,
          entry: code.entry,
          handler: 'handler',
          projectRoot: code.projectRoot,
          depsLockFilePath: path.join(code.projectRoot, 'package-lock.json'),
          bundling: {
            forceDockerBundling: false,
            format: OutputFormat.CJS,
            target: BUNDLING.target,
            minify: BUNDLING.minify,
            sourceMap: BUNDLING.sourcemap,
            sourcesContent: BUNDLING.sourcesContent,
            mainFields: [...BUNDLING.mainFields],
            externalModules: [...BUNDLING.externalModules],
            esbuildArgs: { '--alias': Object.entries(BUNDLING.alias).map(([from, to]) => `${from}=${to}`) },
          },
        });
  return fn;
}
