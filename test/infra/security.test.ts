import { App, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FUNCTIONS, type FunctionName } from '../../shared/routes';
import type { SwitchboardStack } from '../../infra/switchboard-stack';
import { actionsOf, functionLogicalId, logicalId, pascal, resourcesOf, synth, type Statement } from './synth';

let stack: SwitchboardStack;
let template: Template;

beforeAll(() => {
  ({ stack, template } = synth());
});

/** Statements of every IAM policy in the template, by policy logical id. */
function iamStatements(): [string, Statement][] {
  const out: [string, Statement][] = [];
  for (const [id, r] of Object.entries(resourcesOf(template))) {
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
      for (const s of r.Properties!.PolicyDocument.Statement as Statement[]) out.push([id, s]);
    if (r.Type === 'AWS::IAM::Role')
      for (const p of (r.Properties!.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[])
        for (const s of p.PolicyDocument.Statement) out.push([id, s]);
  }
  return out;
}

/** The statements of the policy attached to a function's role. */
function functionStatements(name: FunctionName): Statement[] {
  const fnId = functionLogicalId(template, name);
  const roleId = (resourcesOf(template)[fnId]!.Properties!.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const policies = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).filter((p) =>
    (p.Properties!.Roles as { Ref: string }[]).some((r) => r.Ref === roleId),
  );
  expect(policies).toHaveLength(1);
  return policies[0]!.Properties!.PolicyDocument.Statement as Statement[];
}

describe('IAM', () => {
  test('no IAM policy grants or denies an action with a wildcard, and none names resource "*"', () => {
    const statements = iamStatements();
    expect(statements.length).toBeGreaterThan(10);
    for (const [id, s] of statements) {
      for (const action of actionsOf(s)) expect(`${id}: ${action}`).not.toMatch(/\*/);
      expect(`${id}: ${JSON.stringify(s.Resource)}`).not.toMatch(/: "\*"$/);
    }
  });

  test('resource policies allow no wildcard action except the key policy delegating to IAM in this account', () => {
    const docs: [string, Statement[]][] = [];
    for (const [id, r] of Object.entries(resourcesOf(template))) {
      if (r.Type === 'AWS::KMS::Key') docs.push([id, r.Properties!.KeyPolicy.Statement]);
      if (r.Type === 'AWS::SNS::TopicPolicy' || r.Type === 'AWS::SQS::QueuePolicy')
        docs.push([id, r.Properties!.PolicyDocument.Statement]);
    }
    for (const [id, statements] of docs) {
      for (const s of statements.filter((st) => st.Effect === 'Allow' && actionsOf(st).some((a) => a.includes('*')))) {
        // The default key policy: the account root may use the key, i.e. IAM policies decide (none here grant kms:*).
        expect({ id, action: s.Action, principal: JSON.stringify(s.Principal) }).toEqual({
          id: expect.stringContaining('TopicKey'),
          action: 'kms:*',
          principal: expect.stringMatching(/:root"\]\]\}\}$/),
        });
      }
    }
  });

  test('each function gets exactly the DynamoDB calls its handlers make, on the table only', () => {
    const expected: Record<FunctionName, string[]> = {
      connect: ['BatchWriteItem', 'GetItem', 'PutItem', 'Query', 'UpdateItem'],
      disconnect: ['BatchWriteItem', 'DeleteItem', 'GetItem', 'Query', 'UpdateItem'],
      message: ['DeleteItem', 'GetItem', 'PutItem', 'Query', 'UpdateItem'],
      fanout: [], // validates and forwards to the order queue
      sequencer: ['BatchGetItem', 'ConditionCheckItem', 'GetItem', 'PutItem', 'Query', 'UpdateItem'],
      deliver: ['BatchWriteItem', 'DeleteItem', 'GetItem', 'Query', 'UpdateItem'],
      http: ['BatchGetItem', 'GetItem', 'Query'],
    };
    const table = logicalId(template, 'AWS::DynamoDB::Table', 'Table');
    for (const name of FUNCTIONS) {
      const dynamo = functionStatements(name).filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      if (expected[name].length === 0) {
        expect(dynamo).toEqual([]);
        continue;
      }
      expect(dynamo).toHaveLength(1);
      expect(
        actionsOf(dynamo[0]!)
          .map((a) => a.replace('dynamodb:', ''))
          .sort(),
      ).toEqual(expected[name]);
      expect(dynamo[0]!.Resource).toEqual({ 'Fn::GetAtt': [table, 'Arn'] });
    }
  });

  test("ManageConnections only for the functions that post (message, deliver; connect and disconnect for presence), only POST on this API's prod @connections", () => {
    const api = logicalId(template, 'AWS::ApiGatewayV2::Api', 'WebSocketApi');
    for (const name of FUNCTIONS) {
      const manage = functionStatements(name).filter((s) => actionsOf(s).some((a) => a.startsWith('execute-api:')));
      if (!['message', 'deliver', 'connect', 'disconnect'].includes(name)) {
        expect(manage).toEqual([]);
        continue;
      }
      expect(manage).toHaveLength(1);
      expect(manage[0]!.Action).toBe('execute-api:ManageConnections');
      expect(manage[0]!.Resource).toEqual({
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':execute-api:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            ':',
            { Ref: api },
            '/prod/POST/@connections/*',
          ],
        ],
      });
    }
  });

  test('function roles carry no managed policies and log only to their own log group', () => {
    for (const name of FUNCTIONS) {
      const logsStatements = functionStatements(name).filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
      expect(logsStatements).toHaveLength(1);
      expect(logsStatements[0]!.Resource).toEqual({
        'Fn::GetAtt': [expect.stringContaining(`${pascal(name)}Logs`), 'Arn'],
      });
    }
    const roles = Object.entries(resourcesOf(template, 'AWS::IAM::Role')).filter(
      ([id]) => !id.includes('ApiGatewayCloudWatchRole'),
    );
    expect(roles).toHaveLength(FUNCTIONS.length);
    for (const [, r] of roles) expect(r.Properties!.ManagedPolicyArns).toBeUndefined();
  });

  test('only connect and http (which verify tokens) may read the token secret: GetSecretValue on it, nothing else', () => {
    const secret = logicalId(template, 'AWS::SecretsManager::Secret', 'JwtSecret');
    for (const name of FUNCTIONS) {
      const reads = functionStatements(name).filter((s) =>
        actionsOf(s).some((a) => a.startsWith('secretsmanager:') || a.startsWith('kms:')),
      );
      expect(reads).toEqual(
        name === 'connect' || name === 'http'
          ? [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: secret } }]
          : [],
      );
    }
  });
});

describe('cdk-nag AwsSolutions', () => {
  // cdk-nag 3 reports through CDK's policy-validation plugins (the app registers it with
  // Validations.of(app).addPlugins), not through annotations; validateScope runs the same checks.
  test('no unacknowledged findings, errors or warnings', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);
    expect(
      report.violations.map(
        (v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
      ),
    ).toEqual([]);
    expect(report.success).toBe(true);
    expect(Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
  });

  test('the checks do catch a finding (the test above is not vacuous)', () => {
    const app = new App();
    const bad = new Stack(app, 'Bad');
    new sqs.Queue(bad, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    const rules = new AwsSolutionsChecks().validateScope(bad).violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-SQS2', 'AwsSolutions-SQS4']));
  });

  test('the acknowledged rules are exactly the reviewed ones, each with a reason', () => {
    const acknowledged: string[] = [];
    for (const c of stack.node.findAll()) {
      for (const m of c.node.metadata) {
        if (m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(m.data as Record<string, string>)) {
          expect(reason.length).toBeGreaterThan(80);
          acknowledged.push(
            `${c.node.path.replace('Test/Switchboard/', '')} ${id.replace(/^Annotation::/i, '').replace(/<SwitchboardWebSocketApi[0-9A-F]+>/, '<api>')}`,
          );
        }
      }
    }
    const connections =
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<api>/prod/POST/@connections/*]';
    expect(acknowledged.sort()).toEqual(
      [
        'JwtSecret AwsSolutions-SMG4',
        'WebSocketApi AwsSolutions-APIG4',
        'HttpApi AwsSolutions-APIG4',
        ...['Ingest', 'Order', 'Delivery', 'Subscription'].map((q) => `Pipeline/${q}Dlq AwsSolutions-SQS3`),
        ...['Message', 'Deliver', 'Connect', 'Disconnect'].map((f) => `${f}Role ${connections}`),
        'ApiGatewayCloudWatchRole AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      ].sort(),
    );
  });
});
