import { RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { LOCAL_DEV_SECRET } from '../shared/config';
import type { JwtSecretSource, SwitchboardProps } from './switchboard-construct';

/**
 * What `infra/app.ts` deploys, read from CDK context (`-c key=value`) and, for the token secret,
 * from the environment. Context keys, all optional:
 *   jwtSecretArn | jwtSecretParameter   where the HS256 secret lives (default: a generated secret);
 *                                       env SWITCHBOARD_JWT_SECRET_ARN / _PARAMETER when no -c is given
 *   jwtSecretKmsKeyArn                  the customer-managed KMS key that secret is encrypted with
 *   jwksUrl, jwtIssuer, jwtAudience     RS256/ES256 tokens from an identity provider
 *   jwksOnly=true                       with jwksUrl: no HS256 secret at all
 *   corsOrigins                         comma list (default *)
 *   alarmEmail                          e-mail subscribed to the alarm topic
 *   deliveryLanes, shardSize            delivery lanes and connections per lane message (shared/pipeline.ts)
 *   deliverMaxConcurrency               concurrent deliver invocations at most (default 16)
 *   removalPolicy                       retain (default) | destroy (throwaway stacks)
 *   logRetentionDays                    a CloudWatch Logs retention in days (default 30)
 *   apiGatewayCloudWatchRole            create (default) | existing | none: the account-wide API Gateway
 *                                       logging role WebSocket access logs need (false = existing)
 *   stackName                           default Switchboard
 * A secret *value* is never accepted (`-c jwtSecret=...`, or SWITCHBOARD_JWT_SECRET with nothing
 * else configured): it would end up in the template and the functions' environment.
 */
export interface AppSettings {
  readonly stackName: string;
  readonly props: SwitchboardProps;
}

const SECRET_KEYS = [
  'jwtSecretArn',
  'jwtSecretParameter',
  'jwtSecretKmsKeyArn',
  'jwksUrl',
  'jwtIssuer',
  'jwtAudience',
  'jwksOnly',
];

export class AppContextError extends Error {
  override name = 'AppContextError';
}

function fail(message: string): never {
  throw new AppContextError(`Switchboard context: ${message}`);
}

export function appSettings(
  context: Record<string, unknown>,
  env: Record<string, string | undefined> = process.env,
): AppSettings {
  const ctx = (key: string): string | undefined => {
    const v = context[key];
    // CDK context values are strings (-c) or JSON scalars (cdk.json); anything else is not a setting.
    const text = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v).trim() : '';
    return text === '' ? undefined : text;
  };
  const envValue = (key: string): string | undefined => env[key]?.trim() || undefined;

  // A mistyped key (jwtSecretARN, jwks_url) would otherwise be ignored and a new secret generated.
  const typo = Object.keys(context).find((k) => /^jwt|^jwks/i.test(k) && !SECRET_KEYS.includes(k) && k !== 'jwtSecret');
  if (typo !== undefined) fail(`unknown context key "${typo}"; the token keys are ${SECRET_KEYS.join(', ')}`);

  if (ctx('fanoutReservedConcurrency') !== undefined) {
    fail(
      'fanoutReservedConcurrency is gone: no function reserves concurrency any more; the event source mappings bound it (deliverMaxConcurrency)',
    );
  }
  const int = (key: string) => {
    const v = ctx(key);
    return v === undefined ? undefined : positiveInt(key, v);
  };
  const removal = ctx('removalPolicy');
  const retention = ctx('logRetentionDays');
  return {
    stackName: ctx('stackName') ?? 'Switchboard',
    props: {
      jwtSecret: secretSource(ctx, envValue),
      jwksUrl: ctx('jwksUrl'),
      jwtIssuer: ctx('jwtIssuer'),
      jwtAudience: ctx('jwtAudience'),
      corsOrigins: ctx('corsOrigins')
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      alarmEmail: ctx('alarmEmail'),
      deliveryLanes: int('deliveryLanes'),
      shardSize: int('shardSize'),
      deliverMaxConcurrency: int('deliverMaxConcurrency'),
      removalPolicy:
        removal === undefined || removal === 'retain'
          ? undefined
          : removal === 'destroy'
            ? RemovalPolicy.DESTROY
            : fail(`removalPolicy must be retain or destroy, got "${removal}"`),
      logRetention: retention === undefined ? undefined : retentionDays(retention),
      apiGatewayCloudWatchRole: cloudWatchRole(ctx('apiGatewayCloudWatchRole')),
    },
  };
}

function secretSource(
  ctx: (key: string) => string | undefined,
  envValue: (key: string) => string | undefined,
): JwtSecretSource | undefined {
  const plain = ctx('jwtSecret');
  if (plain !== undefined) refusePlainSecret('-c jwtSecret', plain);
  let secretArn = ctx('jwtSecretArn');
  let parameterName = ctx('jwtSecretParameter');
  if (secretArn === undefined && parameterName === undefined) {
    secretArn = envValue('SWITCHBOARD_JWT_SECRET_ARN');
    parameterName = envValue('SWITCHBOARD_JWT_SECRET_PARAMETER');
  }
  if (secretArn && parameterName) fail('give either jwtSecretArn or jwtSecretParameter, not both');
  const keyArn = ctx('jwtSecretKmsKeyArn');
  const key = keyArn === undefined ? {} : { encryptionKey: keyArn };
  if (secretArn) return { secretArn, ...key };
  if (parameterName) return { parameterName, ...key };
  if (keyArn !== undefined)
    fail(
      'jwtSecretKmsKeyArn names the key of your own secret: give jwtSecretArn or jwtSecretParameter with it (a generated secret uses the aws/secretsmanager key)',
    );
  if (ctx('jwksOnly') === 'true') return { jwksOnly: true };
  // With nothing configured a random secret is generated; a value in the shell would silently not be the one deployed.
  const fromEnv = envValue('SWITCHBOARD_JWT_SECRET');
  if (fromEnv !== undefined) refusePlainSecret('SWITCHBOARD_JWT_SECRET', fromEnv);
  return undefined;
}

function refusePlainSecret(where: string, value: string): never {
  const why =
    value === LOCAL_DEV_SECRET
      ? `"${LOCAL_DEV_SECRET}" is the public local-mode default, which anyone can sign tokens with; it is never deployed.`
      : "a secret value would be written into the CloudFormation template and the functions' environment.";
  fail(
    `${where} gives a plain secret value, which is refused: ${why} Store the secret in Secrets Manager or as an SSM SecureString and pass ` +
      '-c jwtSecretArn=<arn or name> or -c jwtSecretParameter=<name>, or configure neither and a random secret is generated (output JwtSecretArn).',
  );
}

function cloudWatchRole(value: string | undefined): SwitchboardProps['apiGatewayCloudWatchRole'] {
  if (value === undefined) return undefined;
  // true/false: the values this key took before it had three.
  const v = value === 'true' ? 'create' : value === 'false' ? 'existing' : value;
  return v === 'create' || v === 'existing' || v === 'none'
    ? v
    : fail(`apiGatewayCloudWatchRole must be create, existing or none, got "${value}"`);
}

function positiveInt(key: string, value: string): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fail(`${key} must be a positive integer, got "${value}"`);
}

function retentionDays(value: string): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');
  const n = Number(value);
  return allowed.includes(n) ? n : fail(`logRetentionDays must be one of ${allowed.join(', ')}, got "${value}"`);
}
