import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Switchboard, type SwitchboardProps } from '../../infra/switchboard-construct';
import { FUNCTIONS } from '../../shared/routes';
import { functionLogicalId, resourcesOf } from './synth';

/** Solutions-Constructs-style props: bring your own table, topics and key, or adjust the ones made. */
function build(configure: (stack: Stack) => SwitchboardProps): { stack: Stack; template: Template; sb: Switchboard } {
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Consumer');
  const sb = new Switchboard(stack, 'Realtime', configure(stack));
  return { stack, template: Template.fromStack(stack), sb };
}

const goodTable = (stack: Stack, id = 'Mine') =>
  new dynamodb.Table(stack, id, {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
    timeToLiveAttribute: 'ttl',
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy: RemovalPolicy.DESTROY,
  });

describe('existingTable and existingTopic', () => {
  let template: Template;
  let stack: Stack;
  let sb: Switchboard;
  beforeAll(() => {
    ({ template, stack, sb } = build((s) => ({
      existingTable: goodTable(s),
      existingTopic: new sns.Topic(s, 'Bookings', {
        enforceSSL: true,
        masterKey: new kms.Key(s, 'BookingsKey', { enableKeyRotation: true }),
      }),
    })));
  });

  test('no table or event topic of its own; the functions and the subscription use the given ones', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    const tableId = Object.keys(resourcesOf(template, 'AWS::DynamoDB::Table'))[0]!;
    expect(tableId).toMatch(/^Mine/);
    for (const fn of Object.values(resourcesOf(template, 'AWS::Lambda::Function')))
      expect(fn.Properties!.Environment.Variables.SWITCHBOARD_TABLE_NAME).toEqual({ Ref: tableId });
    const topics = Object.keys(resourcesOf(template, 'AWS::SNS::Topic'));
    expect(topics.filter((id) => !id.includes('AlarmTopic'))).toEqual([expect.stringMatching(/^Bookings/)]);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sqs',
      TopicArn: { Ref: Match.stringLikeRegexp('^Bookings') },
    });
    expect(sb.table).toBeInstanceOf(dynamodb.Table);
  });

  test("the publisher policy names the given topic and that topic's key", () => {
    const policy = Object.values(resourcesOf(template, 'AWS::IAM::ManagedPolicy'))[0]!;
    expect(policy.Properties!.PolicyDocument.Statement).toEqual([
      { Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: expect.stringMatching(/^Bookings[0-9A-F]+$/) } },
      {
        Effect: 'Allow',
        Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^BookingsKey/), 'Arn'] },
      },
    ]);
  });

  test('still a topic key of its own for the alarm topic it creates, and clean under cdk-nag', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      DisplayName: 'Switchboard alarms',
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('RealtimeTopicKey'), 'Arn'] },
    });
    expect(
      new AwsSolutionsChecks()
        .validateScope(stack)
        .violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`),
    ).toEqual([]);
  });

  test('imported table and topic (by name and ARN) are used as given', () => {
    const { template: t } = build((s) => ({
      existingTable: dynamodb.Table.fromTableName(s, 'Imported', 'switchboard-prod'),
      existingTopic: sns.Topic.fromTopicArn(s, 'ImportedTopic', 'arn:aws:sns:eu-west-1:123456789012:bookings'),
    }));
    t.resourceCountIs('AWS::DynamoDB::Table', 0);
    t.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: 'arn:aws:sns:eu-west-1:123456789012:bookings',
      Protocol: 'sqs',
    });
    for (const fn of Object.values(resourcesOf(t, 'AWS::Lambda::Function')))
      expect(fn.Properties!.Environment.Variables.SWITCHBOARD_TABLE_NAME).toBe('switchboard-prod');
    // An imported topic's key is unknown: publishers get sns:Publish only.
    expect(
      Object.values(resourcesOf(t, 'AWS::IAM::ManagedPolicy'))[0]!.Properties!.PolicyDocument.Statement,
    ).toHaveLength(1);
  });

  test('a table of the wrong shape, defined in the app, is refused at synth with what is wrong', () => {
    expect(() =>
      build((s) => ({
        existingTable: new dynamodb.Table(s, 'Wrong', {
          partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
          sortKey: { name: 'sk', type: dynamodb.AttributeType.NUMBER },
        }),
      })),
    ).toThrow(
      /existingTable Consumer\/Wrong: partition key must be "pk" \(string\), is id; sort key must be "sk" \(string\), is sk; TTL must be on "ttl"/,
    );
    expect(() =>
      build((s) => ({
        existingTable: new dynamodb.TableV2(s, 'V2', {
          partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
          sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
          timeToLiveAttribute: 'expires',
        }),
      })),
    ).toThrow(/TTL must be on "ttl"/);
    expect(() =>
      build((s) => ({
        existingTable: new dynamodb.TableV2(s, 'V2', {
          partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
          sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
          timeToLiveAttribute: 'ttl',
        }),
      })),
    ).not.toThrow();
  });

  test('a table under a customer-managed key: the functions that use the table may use the key', () => {
    const { template: t } = build((s) => ({
      existingTable: new dynamodb.Table(s, 'Cmk', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
        timeToLiveAttribute: 'ttl',
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      }),
    }));
    const kmsUsers = Object.values(resourcesOf(t, 'AWS::IAM::Policy')).filter(
      (p) =>
        JSON.stringify(p.Properties!.PolicyDocument).includes('kms:Decrypt') &&
        JSON.stringify(p.Properties!.PolicyDocument).includes('CmkKey'),
    );
    expect(kmsUsers).toHaveLength(FUNCTIONS.length - 1); // all but fanout, which never touches the table
  });
});

describe('adjusting what it creates, and the conflict checks', () => {
  test('tableProps and topicProps change the created table and topic, not the keys', () => {
    const { template } = build(() => ({
      tableProps: { billingMode: dynamodb.BillingMode.PROVISIONED, readCapacity: 5, writeCapacity: 5 },
      topicProps: { displayName: 'Bookings realtime' },
    }));
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 },
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
    });
    template.hasResourceProperties('AWS::SNS::Topic', { DisplayName: 'Bookings realtime' });
  });

  test('existingX with xProps, keys in tableProps, a FIFO topic and an unused key are refused, all at once', () => {
    expect(() =>
      build((s) => ({
        existingTable: goodTable(s),
        tableProps: { tableName: 'x', partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING } } as never,
        existingTopic: new sns.Topic(s, 'Fifo', { fifo: true }),
        topicProps: { displayName: 'x' },
        existingAlarmTopic: new sns.Topic(s, 'Ops'),
        encryptionKey: new kms.Key(s, 'K'),
        stageName: 'v1/beta',
        alarmEmail: 'ops',
      })),
    ).toThrow(
      new RegExp(
        [
          'give existingTable or tableProps, not both',
          'give existingTopic or topicProps, not both',
          'encryptionKey encrypts the topics Switchboard creates, and with existingTopic and existingAlarmTopic it creates none',
          'tableProps cannot set partitionKey',
          'existingTopic is a FIFO topic',
          'alarmEmail is not an e-mail address: "ops"',
          'stageName must be 1 to 128 letters, digits, - or _, got "v1/beta"',
        ].join('.*'),
      ),
    );
  });

  test('encryptionKey encrypts the topics it creates; a key defined in the app lets CloudWatch use it', () => {
    const { template } = build((s) => ({ encryptionKey: new kms.Key(s, 'TeamKey', { enableKeyRotation: true }) }));
    template.resourceCountIs('AWS::KMS::Key', 1);
    for (const topic of Object.values(resourcesOf(template, 'AWS::SNS::Topic')))
      expect(topic.Properties!.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^TeamKey/), 'Arn'] });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' } })]),
      },
    });
  });

  test('existingAlarmTopic defined in the app gets the CloudWatch publish statement; no topic key when both topics are given', () => {
    const { template } = build((s) => ({
      existingTopic: new sns.Topic(s, 'Events', { enforceSSL: true }),
      existingAlarmTopic: new sns.Topic(s, 'Ops', { enforceSSL: true }),
    }));
    template.resourceCountIs('AWS::KMS::Key', 0);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: Match.stringLikeRegexp('^Ops') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
    for (const a of Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')))
      expect(a.Properties!.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Ops/) }]);
  });

  test('stageName names the stage, the management endpoint, the @connections grant and the alarms', () => {
    const { template } = build(() => ({ stageName: 'live' }));
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: 'live' });
    const env = resourcesOf(template)[functionLogicalId(template, 'deliver')]!.Properties!.Environment.Variables;
    expect(JSON.stringify(env.SWITCHBOARD_WS_MANAGEMENT_ENDPOINT)).toMatch(/"\/live"\]\]\}$/);
    expect(JSON.stringify(resourcesOf(template, 'AWS::IAM::Policy'))).toContain('/live/POST/@connections/*');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IntegrationError',
      Dimensions: Match.arrayWith([{ Name: 'Stage', Value: 'live' }]),
    });
  });

  test('per-function log retention overrides the construct-wide one', () => {
    const { template } = build(() => ({
      logRetention: RetentionDays.ONE_WEEK,
      functions: { deliver: { logRetention: RetentionDays.THREE_MONTHS } },
    }));
    const retention = Object.entries(resourcesOf(template, 'AWS::Logs::LogGroup')).map(([id, g]) => [
      id.replace(/[0-9A-F]{8}$/, ''),
      g.Properties!.RetentionInDays,
    ]);
    expect(retention).toEqual(
      expect.arrayContaining([
        ['RealtimeDeliverLogs', 90],
        ['RealtimeFanoutLogs', 7],
        ['RealtimeHttpAccessLogs', 7],
      ]),
    );
  });
});
