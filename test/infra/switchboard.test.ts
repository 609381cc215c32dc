import * as fs from 'node:fs';
import * as path from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import {
  FUNCTIONS,
  HTTP_ROUTES,
  ROUTE_SELECTION_EXPRESSION,
  WEBSOCKET_ROUTES,
  type FunctionName,
} from '../../shared/routes';
import { DEFAULT_DELIVERY_LANES, DEFAULT_SHARD_SIZE, PIPELINE, visibilityTimeoutSeconds } from '../../shared/pipeline';
import { TABLE_DEFINITION } from '../../shared/store/table-definition';
import { functionLogicalId, logicalId, resourcesOf, synth, type CfnProperties } from './synth';

/** The default stack, synthesized once for the whole file. */
let template: Template;
const fnId = (name: FunctionName) => functionLogicalId(template, name);
/** The function an API Gateway v2 route ends up invoking (route → integration → function ARN). */
function functionOfRoute(route: { Properties?: CfnProperties }): string {
  const integrationId = JSON.stringify(route.Properties!.Target).match(/"Ref":"([^"]+)"/)![1]!;
  const uri = JSON.stringify(resourcesOf(template)[integrationId]!.Properties!.IntegrationUri);
  return FUNCTIONS.find((name) => uri.includes(`"${fnId(name)}"`)) ?? `unknown (${uri})`;
}

beforeAll(() => {
  template = synth().template;
});

describe('Lambda functions', () => {
  test('one function per entry point in FUNCTIONS, and every entry file exists', () => {
    template.resourceCountIs('AWS::Lambda::Function', FUNCTIONS.length);
    for (const name of FUNCTIONS)
      expect(fs.existsSync(path.join(__dirname, '../../functions', `${name}.ts`))).toBe(true);
  });

  test.each(FUNCTIONS)(
    '%s: Node.js 24 on arm64, JSON logs to its own group, configuration from the environment',
    (name) => {
      const props = resourcesOf(template)[fnId(name)]!.Properties!;
      expect(props).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        LoggingConfig: { LogFormat: 'JSON' },
      });
      expect(props.LoggingConfig.LogGroup).toEqual({ Ref: expect.stringContaining('Logs') });
      const env = props.Environment.Variables as Record<string, unknown>;
      expect(env).toMatchObject({
        SWITCHBOARD_TABLE_NAME: { Ref: logicalId(template, 'AWS::DynamoDB::Table', 'Table') },
        SWITCHBOARD_RETAIN_EVENTS: '100',
        SWITCHBOARD_RETAIN_SECONDS: '300',
        SWITCHBOARD_IDEMPOTENCY_SECONDS: '3600',
        SWITCHBOARD_POST_CONCURRENCY: '64',
        SWITCHBOARD_CORS_ORIGINS: '*',
        SWITCHBOARD_DELIVERY_LANES: String(DEFAULT_DELIVERY_LANES),
        SWITCHBOARD_SHARD_SIZE: String(DEFAULT_SHARD_SIZE),
        NODE_OPTIONS: '--enable-source-maps',
      });
      // Only the functions that verify tokens know where the secret is (security.test.ts: and may read it).
      if (name === 'connect' || name === 'http') {
        expect(env.SWITCHBOARD_JWT_SECRET_ARN).toEqual({
          Ref: logicalId(template, 'AWS::SecretsManager::Secret', 'JwtSecret'),
        });
        expect(env.SWITCHBOARD_VERIFIES_TOKENS).toBeUndefined();
      } else {
        expect(env.SWITCHBOARD_JWT_SECRET_ARN).toBeUndefined();
        expect(env.SWITCHBOARD_VERIFIES_TOKENS).toBe('false');
      }
      expect(JSON.stringify(env.SWITCHBOARD_WS_MANAGEMENT_ENDPOINT)).toMatch(
        /"https:\/\/",\{"Ref":"SwitchboardWebSocketApi[0-9A-F]+"\},"\.execute-api\.",\{"Ref":"AWS::Region"\},"\.",\{"Ref":"AWS::URLSuffix"\},"\/prod"/,
      );
    },
  );

  test('log groups have a retention', () => {
    const groups = Object.values(resourcesOf(template, 'AWS::Logs::LogGroup'));
    expect(groups).toHaveLength(FUNCTIONS.length + 2); // + WebSocket and HTTP access logs
    for (const g of groups) expect(g.Properties!.RetentionInDays).toBe(30);
  });
});

describe('DynamoDB table', () => {
  test('from TABLE_DEFINITION: on-demand, TTL, point-in-time recovery, encrypted, retained', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: [
          { AttributeName: TABLE_DEFINITION.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: TABLE_DEFINITION.sortKey.name, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: TABLE_DEFINITION.partitionKey.name, AttributeType: 'S' },
          { AttributeName: TABLE_DEFINITION.sortKey.name, AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: TABLE_DEFINITION.timeToLiveAttribute, Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });
});

describe('SNS topic and queues', () => {
  test('the event topic is encrypted with a rotating customer key', () => {
    const keyId = logicalId(template, 'AWS::KMS::Key', 'TopicKey');
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::SNS::Topic', {
      DisplayName: 'Switchboard events',
      KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
  });

  test('every queue is encrypted and TLS-only; dead-letter queues keep messages 14 days (the pipeline: pipeline.test.ts)', () => {
    const queues = resourcesOf(template, 'AWS::SQS::Queue');
    expect(Object.keys(queues)).toHaveLength(7); // 3 source queues, their 3 DLQs, the SNS subscription DLQ
    for (const q of Object.values(queues)) expect(q.Properties).toMatchObject({ SqsManagedSseEnabled: true });
    const dlqs = Object.entries(queues).filter(([id]) => id.includes('Dlq'));
    expect(dlqs).toHaveLength(4);
    for (const [, q] of dlqs) expect(q.Properties).toMatchObject({ MessageRetentionPeriod: 14 * 86400 });
    // Dead-letter queues follow removalPolicy (RETAIN by default; props.test.ts: DESTROY).
    for (const [id, q] of dlqs) expect(`${id} ${q.DeletionPolicy}`).toBe(`${id} Retain`);
    for (const id of Object.keys(queues)) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });
});

describe('WebSocket API', () => {
  test('route selection on $request.body.action', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: ROUTE_SELECTION_EXPRESSION,
    });
  });

  test('the routes are exactly WEBSOCKET_ROUTES, each served by its function, with one integration per function', () => {
    const wsApi = logicalId(template, 'AWS::ApiGatewayV2::Api', 'WebSocketApi');
    const routes = Object.values(resourcesOf(template, 'AWS::ApiGatewayV2::Route')).filter(
      (r) => r.Properties!.ApiId.Ref === wsApi,
    );
    expect(routes.map((r) => r.Properties!.RouteKey).sort()).toEqual(Object.keys(WEBSOCKET_ROUTES).sort());
    for (const r of routes) {
      expect(functionOfRoute(r)).toBe(WEBSOCKET_ROUTES[r.Properties!.RouteKey as keyof typeof WEBSOCKET_ROUTES]);
      expect(r.Properties!.AuthorizationType ?? 'NONE').toBe('NONE'); // $connect answers 401 itself
    }
    const integrations = Object.values(resourcesOf(template, 'AWS::ApiGatewayV2::Integration')).filter(
      (i) => i.Properties!.ApiId.Ref === wsApi,
    );
    expect(integrations).toHaveLength(new Set(Object.values(WEBSOCKET_ROUTES)).size);
  });

  test('stage prod: auto-deploy, default route throttling, JSON access logs, after the account logging role', () => {
    const stage = Object.values(resourcesOf(template, 'AWS::ApiGatewayV2::Stage')).find(
      (s) => s.Properties!.StageName === 'prod',
    )!;
    expect(stage.Properties).toMatchObject({
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 500 },
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [logicalId(template, 'AWS::Logs::LogGroup', 'WebSocketAccessLogs'), 'Arn'] },
      },
    });
    const format = JSON.parse(stage.Properties!.AccessLogSettings.Format as string) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      routeKey: '$context.routeKey',
      connectionId: '$context.connectionId',
    });
    expect(stage.DependsOn).toContain(logicalId(template, 'AWS::ApiGateway::Account', 'ApiGatewayAccount'));
  });
});

describe('HTTP API', () => {
  test('every route in HTTP_ROUTES goes to the http function; CORS is left to the function', () => {
    const httpApi = logicalId(template, 'AWS::ApiGatewayV2::Api', 'HttpApi');
    expect(resourcesOf(template)[httpApi]!.Properties).toMatchObject({ ProtocolType: 'HTTP' });
    expect(resourcesOf(template)[httpApi]!.Properties!.CorsConfiguration).toBeUndefined();
    const routes = Object.values(resourcesOf(template, 'AWS::ApiGatewayV2::Route')).filter(
      (r) => r.Properties!.ApiId.Ref === httpApi,
    );
    expect(routes.map((r) => r.Properties!.RouteKey).sort()).toEqual([...HTTP_ROUTES].sort());
    for (const r of routes) expect(functionOfRoute(r)).toBe('http');
    // Unknown paths and methods reach the function, which answers 404 not_found with CORS headers.
    expect(routes.map((r) => r.Properties!.RouteKey)).toContain('$default');
  });

  test('$default stage with throttling and access logs', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      ApiId: { Ref: logicalId(template, 'AWS::ApiGatewayV2::Api', 'HttpApi') },
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 500 },
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [logicalId(template, 'AWS::Logs::LogGroup', 'HttpAccessLogs'), 'Arn'] },
        Format: Match.stringLikeRegexp('requestId'),
      },
    });
  });
});

describe('alarms and dashboard', () => {
  const alarmTopic = () => ({ Ref: logicalId(template, 'AWS::SNS::Topic', 'AlarmTopic') });
  const alarmOn = (metricName: string, extra: Record<string, unknown> = {}) =>
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: metricName,
      AlarmActions: [alarmTopic()],
      ...extra,
    });

  test('pipeline function errors, every dead-letter queue, queue age, HTTP 5xx and WebSocket integration errors page the alarm topic', () => {
    for (const name of ['fanout', 'sequencer', 'deliver'] as const) {
      alarmOn('Errors', {
        Namespace: 'AWS/Lambda',
        Threshold: 1,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId(name) } }],
      });
    }
    const queues = resourcesOf(template, 'AWS::SQS::Queue');
    for (const id of Object.keys(queues).filter((q) => q.includes('Dlq'))) {
      alarmOn('ApproximateNumberOfMessagesVisible', {
        Threshold: 1,
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id, 'QueueName'] } }],
      });
    }
    for (const stage of Object.values(PIPELINE)) {
      const id = logicalId(
        template,
        'AWS::SQS::Queue',
        `Pipeline${stage.queue.charAt(0).toUpperCase()}${stage.queue.slice(1)}Queue`,
      );
      alarmOn('ApproximateAgeOfOldestMessage', {
        Threshold: visibilityTimeoutSeconds(stage),
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id, 'QueueName'] } }],
      });
    }
    alarmOn('5xx', { Namespace: 'AWS/ApiGateway' });
    alarmOn('IntegrationError', {
      Namespace: 'AWS/ApiGateway',
      Dimensions: Match.arrayWith([{ Name: 'Stage', Value: 'prod' }]),
    });
  });

  test('throttles of every function are summed into one alarm', () => {
    const throttles = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).find((a) =>
      JSON.stringify(a.Properties!.Metrics ?? []).includes('"Throttles"'),
    );
    expect(throttles).toBeDefined();
    expect(throttles!.Properties!.AlarmActions).toEqual([alarmTopic()]);
    for (const name of FUNCTIONS) expect(JSON.stringify(throttles!.Properties!.Metrics)).toContain(`"${fnId(name)}"`);
  });

  test('every alarm notifies on alarm and on recovery', () => {
    const alarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(15); // 3 pipeline functions, 4 DLQs, 3 queue ages, other functions, throttles, HTTP 5xx, 2 WebSocket
    for (const a of alarms)
      expect(a.Properties).toMatchObject({
        AlarmActions: [alarmTopic()],
        OKActions: [alarmTopic()],
        TreatMissingData: 'notBreaching',
      });
  });

  test('the alarm topic is encrypted with a key CloudWatch may use', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      DisplayName: 'Switchboard alarms',
      KmsMasterKeyId: Match.anyValue(),
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          }),
        ]),
      },
    });
  });

  test("the alarm topic policy lets CloudWatch alarms of this account publish (the TLS-only policy replaced SNS's default one)", () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [alarmTopic()],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          {
            Sid: 'AllowCloudWatchAlarmsOfThisAccount',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: alarmTopic(),
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ]),
      },
    });
  });

  test('a dashboard shows connections, messages, deliveries and latency', () => {
    const dashboards = Object.values(resourcesOf(template, 'AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]!.Properties!.DashboardBody);
    for (const text of [
      'Connections',
      'Messages',
      'Deliveries',
      'Latency',
      'Pipeline queues',
      'ApproximateAgeOfOldestMessage',
      'ConnectCount',
      'Delivered',
      'NumberOfMessagesPublished',
      'IntegrationLatency',
    ]) {
      expect(body).toContain(text);
    }
  });
});

describe('outputs', () => {
  test('WebSocket (wss) URL, HTTP URL, topic ARN, table name and the generated secret ARN', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(JSON.stringify(outputs.WebSocketUrl!.Value)).toMatch(/^\{"Fn::Join":\["",\["wss:\/\/",.*"\/prod"\]\]\}$/);
    expect(JSON.stringify(outputs.HttpUrl!.Value)).toMatch(/^\{"Fn::Join":\["",\["https:\/\/",.*"\/"\]\]\}$/);
    expect(outputs.TopicArn!.Value).toEqual({ Ref: logicalId(template, 'AWS::SNS::Topic', 'SwitchboardTopic') });
    expect(outputs.TableName!.Value).toEqual({ Ref: logicalId(template, 'AWS::DynamoDB::Table', 'Table') });
    expect(outputs.JwtSecretArn!.Value).toEqual({
      Ref: logicalId(template, 'AWS::SecretsManager::Secret', 'JwtSecret'),
    });
    expect(outputs.PublisherPolicyArn).toBeDefined();
  });

  test('the generated secret is random (64 characters) and its value is nowhere in the template', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
    });
    expect(JSON.stringify(template.toJSON())).not.toContain('local-dev-secret');
  });
});
