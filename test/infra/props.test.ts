import { App, RemovalPolicy, SecretValue, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Switchboard } from '../../infra/switchboard-construct';
import { FUNCTIONS } from '../../shared/routes';
import { actionsOf, resourcesOf, synth, type Statement } from './synth';

const functionEnvs = (template: Template) => Object.values(resourcesOf(template, 'AWS::Lambda::Function')).map((f) => f.Properties!.Environment.Variables as Record<string, unknown>);
const allStatements = (template: Template) => Object.values(resourcesOf(template, 'AWS::IAM::Policy')).flatMap((p) => p.Properties!.PolicyDocument.Statement as Statement[]);

describe('an SSM SecureString secret, JWKS, and the other props', () => {
  let template: Template;
  let stack: Stack;
  beforeAll(() => {
    ({ template, stack } = synth({
      jwtSecret: { parameterName: '/switchboard/jwt-secret' },
      jwksUrl: 'https://auth.example.com/.well-known/jwks.json',
      jwtIssuer: 'https://auth.example.com/',
      jwtAudience: 'switchboard',
      corsOrigins: ['https://app.example.com', 'https://admin.example.com'],
      retainEvents: 50,
      retainSeconds: 120,
      postConcurrency: 16,
      functions: { connect: { memorySize: 256 }, http: { memorySize: 256 } },
      removalPolicy: RemovalPolicy.DESTROY,
      alarmEmail: 'ops@example.com',
      apiGatewayCloudWatchRole: false,
    }));
  });

  test('functions read the parameter by name; no secret is created or output', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    expect(template.toJSON().Outputs.JwtSecretArn).toBeUndefined();
    for (const env of functionEnvs(template)) {
      expect(env).toMatchObject({
        SWITCHBOARD_JWT_SECRET_PARAMETER: '/switchboard/jwt-secret',
        SWITCHBOARD_JWKS_URL: 'https://auth.example.com/.well-known/jwks.json',
        SWITCHBOARD_JWT_ISSUER: 'https://auth.example.com/',
        SWITCHBOARD_JWT_AUDIENCE: 'switchboard',
        SWITCHBOARD_CORS_ORIGINS: 'https://app.example.com,https://admin.example.com',
        SWITCHBOARD_RETAIN_EVENTS: '50',
        SWITCHBOARD_RETAIN_SECONDS: '120',
        SWITCHBOARD_POST_CONCURRENCY: '16',
      });
      expect(env.SWITCHBOARD_JWT_SECRET_ARN).toBeUndefined();
    }
  });

  test('each function may GetParameter on that parameter only', () => {
    const reads = allStatements(template).filter((s) => actionsOf(s).some((a) => a.startsWith('ssm:')));
    expect(reads).toHaveLength(FUNCTIONS.length);
    for (const s of reads) {
      expect(s.Action).toBe('ssm:GetParameter');
      expect(JSON.stringify(s.Resource)).toMatch(/":parameter\/switchboard\/jwt-secret"/);
    }
  });

  test('memory, DESTROY removal without deletion protection, e-mail alarms, no account logging role', () => {
    const fns = Object.values(resourcesOf(template, 'AWS::Lambda::Function')).map((f) => f.Properties!);
    expect(fns.map((f) => f.MemorySize).sort()).toEqual([1024, 1024, 256, 256, 512, 512, 512]);
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete', Properties: { DeletionProtectionEnabled: false } });
    for (const g of Object.values(resourcesOf(template, 'AWS::Logs::LogGroup'))) expect(g.DeletionPolicy).toBe('Delete');
    for (const [id, q] of Object.entries(resourcesOf(template, 'AWS::SQS::Queue'))) expect(`${id} ${q.DeletionPolicy}`).toBe(`${id} Delete`);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
  });

  test('still clean under cdk-nag', () => {
    expect(new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
  });
});

describe('an existing Secrets Manager secret and alarm topic', () => {
  const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:switchboard/jwt-AbCdEf';
  let template: Template;
  beforeAll(() => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Existing');
    const alarmTopic = sns.Topic.fromTopicArn(stack, 'Ops', 'arn:aws:sns:eu-west-1:123456789012:ops');
    new Switchboard(stack, 'Switchboard', { jwtSecret: { secretArn: arn }, alarmTopic });
    template = Template.fromStack(stack);
  });

  test('functions get the ARN and may read exactly that secret', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    for (const env of functionEnvs(template)) expect(env.SWITCHBOARD_JWT_SECRET_ARN).toBe(arn);
    const reads = allStatements(template).filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
    expect(reads).toHaveLength(FUNCTIONS.length);
    for (const s of reads) expect(s.Resource).toBe(arn);
  });

  test('alarms go to the given topic and no alarm topic is created', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    for (const a of Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm'))) expect(a.Properties!.AlarmActions).toEqual(['arn:aws:sns:eu-west-1:123456789012:ops']);
  });
});

test('a secret given by name is read by name and granted as name-?????? (the suffix Secrets Manager adds)', () => {
  const { template } = synth({ jwtSecret: { secretArn: 'switchboard/jwt' } });
  for (const env of functionEnvs(template)) expect(env.SWITCHBOARD_JWT_SECRET_ARN).toBe('switchboard/jwt');
  const reads = allStatements(template).filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
  for (const s of reads) expect(JSON.stringify(s.Resource)).toMatch(/:secret:switchboard\/jwt-\?\?\?\?\?\?"\]\]\}$/);
});

describe('refused configurations fail at synth', () => {
  const build = (configure: (stack: Stack) => ConstructorParameters<typeof Switchboard>[2]) => () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Refused');
    new Switchboard(stack, 'Switchboard', configure(stack));
  };

  test('a secret whose value is the local-mode default', () => {
    expect(
      build((stack) => ({ jwtSecret: { secret: new secretsmanager.Secret(stack, 'Dev', { secretStringValue: SecretValue.unsafePlainText('local-dev-secret') }) } })),
    ).toThrow(/local-dev-secret/);
  });

  test('a secret with any other literal value is accepted', () => {
    expect(build((stack) => ({ jwtSecret: { secret: new secretsmanager.Secret(stack, 'Real', { secretStringValue: SecretValue.unsafePlainText('x'.repeat(48)) }) } }))).not.toThrow();
  });

  test('jwksOnly without a JWKS URL', () => {
    expect(build(() => ({ jwtSecret: { jwksOnly: true } }))).toThrow(/jwksUrl/);
  });

  test('values the functions would reject at start-up', () => {
    expect(build(() => ({ retainEvents: -1 }))).toThrow(/SWITCHBOARD_RETAIN_EVENTS/);
    expect(build(() => ({ postConcurrency: 0 }))).toThrow(/SWITCHBOARD_POST_CONCURRENCY/);
    expect(build(() => ({ jwksUrl: 'ftp://keys' }))).toThrow(/SWITCHBOARD_JWKS_URL/);
    expect(build(() => ({ channelRules: '{not json' }))).toThrow(/SWITCHBOARD_CHANNEL_RULES/);
  });
});
