import { App, RemovalPolicy, SecretValue, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Switchboard } from '../../infra/switchboard-construct';
import { FUNCTIONS } from '../../shared/routes';
import { actionsOf, functionLogicalId, resourcesOf, synth, type Statement } from './synth';

const functionEnvs = (template: Template) =>
  Object.values(resourcesOf(template, 'AWS::Lambda::Function')).map(
    (f) => f.Properties!.Environment.Variables as Record<string, unknown>,
  );
/** Environments of the functions that verify tokens (connect, http); the others get no token settings. */
const readerEnvs = (template: Template) =>
  functionEnvs(template).filter((env) => env.SWITCHBOARD_VERIFIES_TOKENS !== 'false');
const TOKEN_KEYS = [
  'SWITCHBOARD_JWT_SECRET_ARN',
  'SWITCHBOARD_JWT_SECRET_PARAMETER',
  'SWITCHBOARD_JWKS_URL',
  'SWITCHBOARD_JWT_ISSUER',
  'SWITCHBOARD_JWT_AUDIENCE',
];
/** The statements of the role policy of function `name`. */
function statementsOf(template: Template, name: string): Statement[] {
  const fnId = functionLogicalId(template, name);
  const roleId = (resourcesOf(template)[fnId]!.Properties!.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
  return Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
    .filter((p) => (p.Properties!.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => p.Properties!.PolicyDocument.Statement as Statement[]);
}
const allStatements = (template: Template) =>
  Object.values(resourcesOf(template, 'AWS::IAM::Policy')).flatMap(
    (p) => p.Properties!.PolicyDocument.Statement as Statement[],
  );

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
      apiGatewayCloudWatchRole: 'existing',
    }));
  });

  test('functions read the parameter by name; no secret is created or output', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    expect(template.toJSON().Outputs.JwtSecretArn).toBeUndefined();
    expect(readerEnvs(template)).toHaveLength(2);
    for (const env of readerEnvs(template)) {
      expect(env).toMatchObject({
        SWITCHBOARD_JWT_SECRET_PARAMETER: '/switchboard/jwt-secret',
        SWITCHBOARD_JWKS_URL: 'https://auth.example.com/.well-known/jwks.json',
        SWITCHBOARD_JWT_ISSUER: 'https://auth.example.com/',
        SWITCHBOARD_JWT_AUDIENCE: 'switchboard',
      });
      expect(env.SWITCHBOARD_JWT_SECRET_ARN).toBeUndefined();
    }
    for (const env of functionEnvs(template)) {
      if (env.SWITCHBOARD_VERIFIES_TOKENS === 'false') expect(TOKEN_KEYS.filter((k) => k in env)).toEqual([]);
      expect(env).toMatchObject({
        SWITCHBOARD_CORS_ORIGINS: 'https://app.example.com,https://admin.example.com',
        SWITCHBOARD_RETAIN_EVENTS: '50',
        SWITCHBOARD_RETAIN_SECONDS: '120',
        SWITCHBOARD_POST_CONCURRENCY: '16',
      });
    }
  });

  test('connect and http may GetParameter on that parameter only', () => {
    const reads = allStatements(template).filter((s) => actionsOf(s).some((a) => a.startsWith('ssm:')));
    expect(reads).toHaveLength(2);
    for (const name of ['connect', 'http'])
      expect(statementsOf(template, name).filter((s) => actionsOf(s).includes('ssm:GetParameter'))).toHaveLength(1);
    for (const s of reads) {
      expect(s.Action).toBe('ssm:GetParameter');
      expect(JSON.stringify(s.Resource)).toMatch(/":parameter\/switchboard\/jwt-secret"/);
    }
  });

  test('memory, DESTROY removal without deletion protection, e-mail alarms, no account logging role', () => {
    const fns = Object.values(resourcesOf(template, 'AWS::Lambda::Function')).map((f) => f.Properties!);
    expect(fns.map((f) => f.MemorySize).sort()).toEqual([1024, 1024, 256, 256, 512, 512, 512]);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: { DeletionProtectionEnabled: false },
    });
    for (const g of Object.values(resourcesOf(template, 'AWS::Logs::LogGroup')))
      expect(g.DeletionPolicy).toBe('Delete');
    for (const [id, q] of Object.entries(resourcesOf(template, 'AWS::SQS::Queue')))
      expect(`${id} ${q.DeletionPolicy}`).toBe(`${id} Delete`);
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
    new Switchboard(stack, 'Switchboard', { jwtSecret: { secretArn: arn }, existingAlarmTopic: alarmTopic });
    template = Template.fromStack(stack);
  });

  test('functions get the ARN and may read exactly that secret', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    for (const env of readerEnvs(template)) expect(env.SWITCHBOARD_JWT_SECRET_ARN).toBe(arn);
    const reads = allStatements(template).filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
    expect(reads).toEqual([
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: arn },
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: arn },
    ]);
  });

  test('alarms go to the given topic and no alarm topic is created', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    for (const a of Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')))
      expect(a.Properties!.AlarmActions).toEqual(['arn:aws:sns:eu-west-1:123456789012:ops']);
  });
});

test('a secret given by name is read by name and granted as name-?????? (the suffix Secrets Manager adds)', () => {
  const { template } = synth({ jwtSecret: { secretArn: 'switchboard/jwt' } });
  for (const env of readerEnvs(template)) expect(env.SWITCHBOARD_JWT_SECRET_ARN).toBe('switchboard/jwt');
  const reads = allStatements(template).filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
  expect(reads).toHaveLength(2);
  for (const s of reads) expect(JSON.stringify(s.Resource)).toMatch(/:secret:switchboard\/jwt-\?\?\?\?\?\?"\]\]\}$/);
});

describe('a secret under a customer-managed KMS key', () => {
  const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const decrypts = (template: Template, name: string) =>
    statementsOf(template, name).filter((s) => actionsOf(s).some((a) => a.startsWith('kms:')));
  const viaService = (service: string) => ({
    Effect: 'Allow',
    Action: 'kms:Decrypt',
    Resource: keyArn,
    Condition: {
      StringEquals: {
        'kms:ViaService': { 'Fn::Join': ['', [`${service}.`, { Ref: 'AWS::Region' }, '.amazonaws.com']] },
      },
    },
  });

  test('Secrets Manager secret by ARN with its key (as an ARN): connect and http may decrypt through Secrets Manager only', () => {
    const { template } = synth({
      jwtSecret: { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:sb-AbCdEf', encryptionKey: keyArn },
    });
    for (const name of FUNCTIONS)
      expect(decrypts(template, name)).toEqual(
        name === 'connect' || name === 'http' ? [viaService('secretsmanager')] : [],
      );
  });

  test('SSM SecureString with its key (as an IKey): decrypt through SSM only', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Kms');
    const key = kms.Key.fromKeyArn(stack, 'Key', keyArn);
    new Switchboard(stack, 'Switchboard', { jwtSecret: { parameterName: '/sb/jwt', encryptionKey: key } });
    const template = Template.fromStack(stack);
    expect(decrypts(template, 'connect')).toEqual([viaService('ssm')]);
    expect(decrypts(template, 'fanout')).toEqual([]);
  });

  test('a secret defined in the app with its own key: that key is granted', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'OwnKey');
    const key = new kms.Key(stack, 'SecretKey', { enableKeyRotation: true });
    const secret = new secretsmanager.Secret(stack, 'Jwt', { encryptionKey: key });
    new Switchboard(stack, 'Switchboard', { jwtSecret: { secret } });
    const template = Template.fromStack(stack);
    const [statement] = decrypts(template, 'http');
    expect(statement).toMatchObject({
      Action: 'kms:Decrypt',
      Resource: { 'Fn::GetAtt': [expect.stringContaining('SecretKey'), 'Arn'] },
    });
  });

  test('an alias or a bare key id is refused (IAM would grant nothing)', () => {
    expect(() => synth({ jwtSecret: { secretArn: 'sb/jwt', encryptionKey: 'alias/switchboard' } })).toThrow(
      /must be given as a key ARN/,
    );
    expect(() =>
      synth({ jwtSecret: { parameterName: '/sb/jwt', encryptionKey: '1234abcd-12ab-34cd-56ef-1234567890ab' } }),
    ).toThrow(/must be given as a key ARN/);
  });
});

describe('refused configurations fail at synth', () => {
  const build = (configure: (stack: Stack) => ConstructorParameters<typeof Switchboard>[2]) => () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Refused');
    new Switchboard(stack, 'Switchboard', configure(stack));
  };

  test('a secret whose value is the local-mode default', () => {
    expect(
      build((stack) => ({
        jwtSecret: {
          secret: new secretsmanager.Secret(stack, 'Dev', {
            secretStringValue: SecretValue.unsafePlainText('local-dev-secret'),
          }),
        },
      })),
    ).toThrow(/local-dev-secret/);
  });

  test('a secret with any other literal value is accepted', () => {
    expect(
      build((stack) => ({
        jwtSecret: {
          secret: new secretsmanager.Secret(stack, 'Real', {
            secretStringValue: SecretValue.unsafePlainText('x'.repeat(48)),
          }),
        },
      })),
    ).not.toThrow();
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

describe('the account-wide API Gateway logging role is an explicit choice', () => {
  const stageOf = (template: Template) =>
    Object.values(resourcesOf(template, 'AWS::ApiGatewayV2::Stage')).find((s) => s.Properties!.StageName === 'prod')!;

  test("'create' (the default): a role only API Gateway assumes, set on the account, both retained, announced at synth", () => {
    const { template, stack } = synth();
    template.hasResource('AWS::ApiGateway::Account', { DeletionPolicy: 'Retain' });
    template.hasResource('AWS::IAM::Role', {
      DeletionPolicy: 'Retain',
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [
            { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'apigateway.amazonaws.com' } },
          ],
        },
      },
    });
    expect(stageOf(template).DependsOn).toEqual(expect.arrayContaining([expect.stringContaining('ApiGatewayAccount')]));
    const info = Annotations.fromStack(stack).findInfo(
      '*',
      Match.stringLikeRegexp("sets this account and region's API Gateway CloudWatch Logs role"),
    );
    expect(info).toHaveLength(1);
  });

  test("'existing': nothing account-wide, access logs still on", () => {
    const { template, stack } = synth({ apiGatewayCloudWatchRole: 'existing' });
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
    expect(
      Object.keys(resourcesOf(template, 'AWS::IAM::Role')).filter((id) => id.includes('ApiGatewayCloudWatchRole')),
    ).toEqual([]);
    expect(stageOf(template).Properties!.AccessLogSettings).toBeDefined();
    expect(Annotations.fromStack(stack).findInfo('*', Match.anyValue())).toEqual([]);
  });

  test("'none': no account role and no WebSocket access logs (acknowledged under cdk-nag); HTTP access logs stay", () => {
    const { template, stack } = synth({ apiGatewayCloudWatchRole: 'none' });
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
    expect(stageOf(template).Properties!.AccessLogSettings).toBeUndefined();
    expect(
      Object.keys(resourcesOf(template, 'AWS::Logs::LogGroup')).filter((id) => id.includes('WebSocketAccessLogs')),
    ).toEqual([]);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AccessLogSettings: Match.anyValue(),
    });
    expect(new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
  });

  test('anything else is refused', () => {
    expect(() => synth({ apiGatewayCloudWatchRole: true as never })).toThrow(
      /apiGatewayCloudWatchRole must be 'create', 'existing' or 'none', got true/,
    );
  });
});
