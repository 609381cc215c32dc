import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { JwtSecretSource, SwitchboardProps } from './switchboard-construct';
import { SwitchboardStack } from './switchboard-stack';

/**
 * `npx cdk synth|deploy [-c key=value ...]`. The stack is environment-agnostic (no account or
 * region at synth), so it synthesizes offline with no credentials; `cdk deploy` takes both from
 * the AWS profile. Context keys, all optional:
 *   jwtSecretArn | jwtSecretParameter   where the HS256 secret lives (default: a generated secret)
 *   jwksUrl, jwtIssuer, jwtAudience     RS256/ES256 tokens from an identity provider
 *   jwksOnly=true                       with jwksUrl: no HS256 secret at all
 *   corsOrigins                         comma list (default *)
 *   alarmEmail                          e-mail subscribed to the alarm topic
 *   fanoutReservedConcurrency           a number, or "none" (default 20)
 *   removalPolicy                       retain (default) | destroy (throwaway stacks)
 *   logRetentionDays                    a CloudWatch Logs retention in days (default 30)
 *   apiGatewayCloudWatchRole=false      when the account already has one
 *   stackName                           default Switchboard
 * cdk-nag's AwsSolutions checks run on every synth; an unsuppressed finding fails it.
 */
const app = new App();

function ctx(key: string): string | undefined {
  const v: unknown = app.node.tryGetContext(key);
  return v === undefined || v === null || String(v).trim() === '' ? undefined : String(v).trim();
}

function fail(message: string): never {
  throw new Error(`Switchboard context: ${message}`);
}

function positiveInt(key: string, value: string): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fail(`${key} must be a positive integer, got "${value}"`);
}

function retentionDays(value: string): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');
  const n = Number(value);
  return allowed.includes(n) ? (n as logs.RetentionDays) : fail(`logRetentionDays must be one of ${allowed.join(', ')}, got "${value}"`);
}

function secretSource(): JwtSecretSource | undefined {
  const secretArn = ctx('jwtSecretArn');
  const parameterName = ctx('jwtSecretParameter');
  if (secretArn && parameterName) fail('give either jwtSecretArn or jwtSecretParameter, not both');
  if (secretArn) return { secretArn };
  if (parameterName) return { parameterName };
  return ctx('jwksOnly') === 'true' ? { jwksOnly: true } : undefined;
}

const reserved = ctx('fanoutReservedConcurrency');
const removal = ctx('removalPolicy');
const retention = ctx('logRetentionDays');
const props: SwitchboardProps = {
  jwtSecret: secretSource(),
  jwksUrl: ctx('jwksUrl'),
  jwtIssuer: ctx('jwtIssuer'),
  jwtAudience: ctx('jwtAudience'),
  corsOrigins: ctx('corsOrigins')?.split(',').map((s) => s.trim()).filter(Boolean),
  alarmEmail: ctx('alarmEmail'),
  fanoutReservedConcurrency: reserved === undefined ? undefined : reserved === 'none' ? false : positiveInt('fanoutReservedConcurrency', reserved),
  removalPolicy: removal === undefined || removal === 'retain' ? undefined : removal === 'destroy' ? RemovalPolicy.DESTROY : fail(`removalPolicy must be retain or destroy, got "${removal}"`),
  logRetention: retention === undefined ? undefined : retentionDays(retention),
  apiGatewayCloudWatchRole: ctx('apiGatewayCloudWatchRole') !== 'false',
};

new SwitchboardStack(app, ctx('stackName') ?? 'Switchboard', { switchboard: props });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
