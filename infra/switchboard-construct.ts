import { Annotations, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { parseChannelRules } from '../shared/channel-rules';
import { loadConfig } from '../shared/config';
import {
  DEFAULT_DELIVERY_LANES,
  DEFAULT_SHARD_SIZE,
  FUNCTION_SETTINGS,
  PIPELINE,
  PIPELINE_ENV,
} from '../shared/pipeline';
import {
  FUNCTIONS,
  HTTP_ROUTES,
  ROUTE_SELECTION_EXPRESSION,
  WEBSOCKET_ROUTES,
  type FunctionName,
} from '../shared/routes';
import { switchboardFunction } from './functions';
import { resolveJwtSecret } from './jwt-secret';
import { SwitchboardMonitoring } from './monitoring';
import { nagResourceId } from './nag-id';
import { SwitchboardPipeline, type PipelineStage } from './pipeline';
import { checkProps, type SwitchboardProps } from './props';
import { eventTopic, grantTableKey, switchboardTable, topicKey } from './resources';

export type { JwtSecretSource } from './jwt-secret';
export type {
  ApiGatewayCloudWatchRole,
  FunctionOverrides,
  SwitchboardProps,
  SwitchboardTableProps,
  SwitchboardTopicProps,
} from './props';

/**
 * The functions that verify client tokens ($connect's `?token=`, the HTTP API's Bearer token): only
 * they get the token secret's location and the grant to read it (shared/connections-lifecycle.ts,
 * shared/http-api.ts). The others run with SWITCHBOARD_VERIFIES_TOKENS=false.
 */
const TOKEN_READERS: readonly FunctionName[] = ['connect', 'http'];

/** The default WebSocket stage name (`stageName`); the management endpoint and the `@connections` grant name it. */
export const WEBSOCKET_STAGE = 'prod';

/**
 * Switchboard on AWS: an API Gateway WebSocket API for browsers, an HTTP API for polling, an SNS
 * topic for backends feeding a queue pipeline (shared/pipeline.ts), one DynamoDB table, one Lambda
 * function per entry point in FUNCTIONS, alarms and a dashboard.
 */
export class Switchboard extends Construct {
  /** The table: `existingTable`, or the one Switchboard created. */
  readonly table: dynamodb.ITable;
  /** The event topic backends publish to: `existingTopic`, or the one Switchboard created. */
  readonly topic: sns.ITopic;
  /** The key of the topics Switchboard created (`encryptionKey` or a new one); none when it created no topic. */
  readonly topicKey?: kms.IKey;
  readonly webSocketApi: apigwv2.WebSocketApi;
  readonly webSocketStage: apigwv2.WebSocketStage;
  readonly httpApi: apigwv2.HttpApi;
  readonly httpStage: apigwv2.HttpStage;
  /** One function per entry point in FUNCTIONS (shared/routes.ts). */
  readonly functions: Record<FunctionName, lambda.Function>;
  /** The delivery pipeline: queues, dead-letter queues and event source mappings. */
  readonly pipeline: SwitchboardPipeline;
  /** Source queues: `ingest` (standard, fed by the topic), `order` and `delivery` (FIFO). */
  readonly queues: Record<PipelineStage, sqs.Queue>;
  /** Dead-letter queues of the three source queues, and `subscription` (SNS → ingest failures). */
  readonly deadLetterQueues: Record<PipelineStage | 'subscription', sqs.Queue>;
  /** Attach to the roles or users of backends that publish (sns:Publish and, when known, the topic's key). */
  readonly publisherPolicy: iam.ManagedPolicy;
  readonly monitoring: SwitchboardMonitoring;
  /** The token secret this construct generated, when `jwtSecret` was not given. */
  readonly generatedJwtSecret?: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: SwitchboardProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const throttle = props.throttle ?? { rateLimit: 1000, burstLimit: 500 };
    const stageName = props.stageName ?? WEBSOCKET_STAGE;
    const deliveryLanes = props.deliveryLanes ?? DEFAULT_DELIVERY_LANES;
    const shardSize = props.shardSize ?? DEFAULT_SHARD_SIZE;
    const deliverMaxConcurrency = props.deliverMaxConcurrency ?? PIPELINE.delivery.maxConcurrency;
    checkProps(props, { deliveryLanes, shardSize, deliverMaxConcurrency });

    this.table = switchboardTable(this, props, removalPolicy);
    this.topicKey = topicKey(this, props, removalPolicy);
    this.topic = eventTopic(this, props, this.topicKey);

    const secret = resolveJwtSecret(this, props.jwtSecret, { removalPolicy, hasJwks: props.jwksUrl !== undefined });
    this.generatedJwtSecret = secret.generated;

    this.webSocketApi = new apigwv2.WebSocketApi(this, 'WebSocketApi', {
      description: 'Switchboard: browsers connect with ?token=<JWT> and receive channel events',
      routeSelectionExpression: ROUTE_SELECTION_EXPRESSION,
    });

    // Only the functions that verify tokens learn where the token secret is, and may read it.
    const tokenEnvironment: Record<string, string> = {
      ...secret.environment,
      ...(props.jwksUrl !== undefined && { SWITCHBOARD_JWKS_URL: props.jwksUrl }),
      ...(props.jwtIssuer !== undefined && { SWITCHBOARD_JWT_ISSUER: props.jwtIssuer }),
      ...(props.jwtAudience !== undefined && { SWITCHBOARD_JWT_AUDIENCE: props.jwtAudience }),
    };
    const environment: Record<string, string> = {
      SWITCHBOARD_TABLE_NAME: this.table.tableName,
      SWITCHBOARD_RETAIN_EVENTS: String(props.retainEvents ?? 100),
      SWITCHBOARD_RETAIN_SECONDS: String(props.retainSeconds ?? 300),
      SWITCHBOARD_IDEMPOTENCY_SECONDS: String(props.idempotencySeconds ?? 3600),
      SWITCHBOARD_POST_CONCURRENCY: String(props.postConcurrency ?? 64),
      SWITCHBOARD_CORS_ORIGINS: (props.corsOrigins ?? ['*']).join(','),
      // https://{apiId}.execute-api.{region}.amazonaws.com/{stage}, built from the API id rather than
      // the stage so the functions do not wait for the stage.
      SWITCHBOARD_WS_MANAGEMENT_ENDPOINT: `https://${this.webSocketApi.apiId}.execute-api.${Stack.of(this).region}.${Stack.of(this).urlSuffix}/${stageName}`,
      ...(props.channelRules !== undefined && { SWITCHBOARD_CHANNEL_RULES: props.channelRules }),
      // Every function knows the lane layout; the pipeline adds each consumer's queue URLs.
      [PIPELINE_ENV.lanes]: String(deliveryLanes),
      [PIPELINE_ENV.shardSize]: String(shardSize),
    };
    checkConfiguration({ ...environment, ...tokenEnvironment }, props);

    const make = (name: FunctionName) =>
      switchboardFunction(this, name, {
        environment: {
          ...environment,
          ...(TOKEN_READERS.includes(name) ? tokenEnvironment : { SWITCHBOARD_VERIFIES_TOKENS: 'false' }),
        },
        logRetention: props.functions?.[name]?.logRetention ?? logRetention,
        removalPolicy,
        memorySize: props.functions?.[name]?.memorySize ?? FUNCTION_SETTINGS[name].memoryMb,
      });
    this.functions = Object.fromEntries(FUNCTIONS.map((name) => [name, make(name)])) as Record<
      FunctionName,
      lambda.Function
    >;

    // Least privilege: exactly the DynamoDB calls each handler makes (shared/store/*). Transactional
    // items are authorised one by one, as PutItem/UpdateItem/DeleteItem/ConditionCheckItem. The
    // fanout only validates and forwards to the order queue: no table access.
    const tableActions: Record<FunctionName, string[]> = {
      // connect and disconnect also keep presence (shared/store/presence.ts: Get, Update, Query).
      connect: ['PutItem', 'BatchWriteItem', 'UpdateItem', 'GetItem', 'Query'],
      disconnect: ['Query', 'DeleteItem', 'BatchWriteItem', 'UpdateItem', 'GetItem'],
      message: ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem'],
      fanout: [],
      sequencer: ['PutItem', 'UpdateItem', 'ConditionCheckItem', 'BatchGetItem', 'Query', 'GetItem'],
      deliver: ['Query', 'DeleteItem', 'BatchWriteItem', 'UpdateItem', 'GetItem'],
      http: ['GetItem', 'Query', 'BatchGetItem'],
    };
    for (const name of FUNCTIONS) {
      const fn = this.functions[name];
      if (tableActions[name].length > 0) {
        fn.addToRolePolicy(
          new iam.PolicyStatement({
            actions: tableActions[name].map((a) => `dynamodb:${a}`),
            resources: [this.table.tableArn],
          }),
        );
        grantTableKey(this.table, fn);
      }
      if (TOKEN_READERS.includes(name)) secret.grantRead(fn);
    }
    // Frames go out through the management API of this API's stage only (posts; nothing here reads
    // or deletes connections through it): `message` answers clients, `deliver` posts events, and
    // `connect`, `disconnect` (and those two) post presence join/leave frames.
    const connectionsArn = Stack.of(this).formatArn({
      service: 'execute-api',
      resource: this.webSocketApi.apiId,
      resourceName: `${stageName}/POST/@connections/*`,
    });
    for (const fn of [
      this.functions.connect,
      this.functions.disconnect,
      this.functions.message,
      this.functions.deliver,
    ]) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['execute-api:ManageConnections'], resources: [connectionsArn] }),
      );
      Validations.of(fn.role!).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResourceId(Stack.of(this).resolve(connectionsArn))}]`,
        reason:
          "Connection ids are created by API Gateway at run time, so the grant names the @connections path of this API's stage, for POST only; " +
          'the trailing * stands for the connection id and nothing wider.',
      });
    }

    this.pipeline = new SwitchboardPipeline(this, 'Pipeline', {
      topic: this.topic,
      functions: this.functions,
      deliverMaxConcurrency,
      removalPolicy,
    });
    this.queues = this.pipeline.queues;
    this.deadLetterQueues = this.pipeline.deadLetterQueues;

    const accountRole = props.apiGatewayCloudWatchRole ?? 'create';
    if (!['create', 'existing', 'none'].includes(accountRole))
      throw new Error(
        `Switchboard: apiGatewayCloudWatchRole must be 'create', 'existing' or 'none', got ${JSON.stringify(accountRole)}`,
      );
    const webSocketAccessLogs =
      accountRole === 'none'
        ? undefined
        : new logs.LogGroup(this, 'WebSocketAccessLogs', { retention: logRetention, removalPolicy });
    this.webSocketStage = new apigwv2.WebSocketStage(this, 'WebSocketStage', {
      webSocketApi: this.webSocketApi,
      stageName,
      autoDeploy: true,
      throttle,
      ...(webSocketAccessLogs && {
        accessLogSettings: {
          destination: new apigwv2.LogGroupLogDestination(webSocketAccessLogs),
          format: accessLogFormat({
            eventType: '$context.eventType',
            connectionId: '$context.connectionId',
            integrationLatency: '$context.integration.latency',
          }),
        },
      }),
    });
    if (accountRole === 'create') this.webSocketStage.node.addDependency(this.apiGatewayAccountLogging());
    if (accountRole === 'none') {
      Validations.of(this.webSocketStage).acknowledge({
        id: 'AwsSolutions-APIG1',
        reason:
          "Access logging of the WebSocket stage was turned off on purpose (apiGatewayCloudWatchRole: 'none'): it needs an account-wide API Gateway logging role this deployment may not set.",
      });
    }

    // One integration per function, shared by every route it serves (the route table decides).
    const wsIntegrations = new Map<FunctionName, WebSocketLambdaIntegration>();
    for (const [routeKey, name] of Object.entries(WEBSOCKET_ROUTES)) {
      let integration = wsIntegrations.get(name);
      if (!integration) {
        integration = new WebSocketLambdaIntegration(`${pascal(name)}Integration`, this.functions[name]);
        wsIntegrations.set(name, integration);
      }
      // `$connect` has no authorizer: the connect function verifies the token itself and answers
      // 401, as protocol §1 requires (a Deny from an authorizer policy would be a 403).
      this.webSocketApi.addRoute(routeKey, { integration });
    }

    // No `corsPreflight` here on purpose: with it, API Gateway would answer OPTIONS itself. The
    // http function implements CORS (preflight included, `OPTIONS /{proxy+}`) from
    // SWITCHBOARD_CORS_ORIGINS, the same code local mode runs, so the two cannot disagree.
    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Switchboard: polling fallback (/version, /events) and ops',
      createDefaultStage: false,
    });
    const httpAccessLogs = new logs.LogGroup(this, 'HttpAccessLogs', { retention: logRetention, removalPolicy });
    this.httpStage = new apigwv2.HttpStage(this, 'HttpStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(httpAccessLogs),
        format: accessLogFormat({
          method: '$context.httpMethod',
          responseLength: '$context.responseLength',
          latency: '$context.responseLatency',
        }),
      },
    });
    const httpIntegration = new HttpLambdaIntegration('HttpIntegration', this.functions.http);
    for (const route of HTTP_ROUTES) {
      if (route === '$default') {
        new apigwv2.HttpRoute(this.httpApi, 'DefaultRoute', {
          httpApi: this.httpApi,
          routeKey: apigwv2.HttpRouteKey.DEFAULT,
          integration: httpIntegration,
        });
        continue;
      }
      const [method, routePath] = route.split(' ') as [string, string];
      this.httpApi.addRoutes({
        path: routePath,
        methods: [method as apigwv2.HttpMethod],
        integration: httpIntegration,
      });
    }

    for (const api of [this.webSocketApi, this.httpApi]) {
      Validations.of(api).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'Authentication happens in the functions, by design (protocol sections 1 and 3): $connect verifies the JWT (HS256 secret or JWKS) and refuses ' +
          'with 401, or 400/403 for ?channels= it checks against the same token; WebSocket routes other than $connect cannot have authorizers and act ' +
          'only on connections admitted at $connect. HTTP routes verify the Bearer token in the function (an HTTP API JWT authorizer cannot verify HS256); ' +
          'GET /health is public by design and CORS preflights (OPTIONS) carry no credentials by standard.',
      });
    }

    // Publishing to a KMS-encrypted topic needs the publisher to use the key, when we know it.
    const publisherKey = this.topic.masterKey;
    this.publisherPolicy = new iam.ManagedPolicy(this, 'PublisherPolicy', {
      description: 'Switchboard: lets a backend publish events to the topic (attach to its role or user)',
      statements: [
        new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.topic.topicArn] }),
        ...(publisherKey
          ? [
              new iam.PolicyStatement({
                actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
                resources: [publisherKey.keyArn],
              }),
            ]
          : []),
      ],
    });

    this.monitoring = new SwitchboardMonitoring(this, 'Monitoring', {
      functions: this.functions,
      queues: this.queues,
      deadLetterQueues: this.deadLetterQueues,
      topic: this.topic,
      topicKey: this.topicKey,
      webSocketApi: this.webSocketApi,
      webSocketStage: stageName,
      httpApi: this.httpApi,
      alarmTopic: props.existingAlarmTopic,
      alarmEmail: props.alarmEmail,
    });
  }

  /**
   * WebSocket stages log through the account's API Gateway CloudWatch role (HTTP APIs do not need
   * it); without one, deploying a stage with access logs fails. Retained on delete, because other
   * APIs in the account come to rely on it.
   */
  private apiGatewayAccountLogging(): Construct {
    const role = new iam.Role(this, 'ApiGatewayCloudWatchRole', {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs'),
      ],
    });
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        'AmazonAPIGatewayPushToCloudWatchLogs is the AWS-maintained policy for the account-level API Gateway logging role, which only API Gateway ' +
        'can assume; API Gateway names the log groups it writes (per API and stage), so a hand-written policy would need the same log-group wildcards.',
    });
    const account = new apigw.CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
    account.applyRemovalPolicy(RemovalPolicy.RETAIN);
    Annotations.of(account).addInfo(
      "Switchboard sets this account and region's API Gateway CloudWatch Logs role (apiGatewayCloudWatchRole: 'create'), replacing any role set before; " +
        "use 'existing' if the account already has one, or 'none' for no WebSocket access logs (docs/deploy.md).",
    );
    return account;
  }
}

/** Fails synth, not the first cold start, on a configuration the functions would refuse. */
function checkConfiguration(environment: Record<string, string>, props: SwitchboardProps): void {
  const env = { ...environment };
  if (props.jwksUrl !== undefined && Token.isUnresolved(props.jwksUrl))
    env.SWITCHBOARD_JWKS_URL = 'https://resolved-at-deploy.invalid';
  loadConfig(env);
  if (props.channelRules !== undefined && !Token.isUnresolved(props.channelRules))
    parseChannelRules(props.channelRules);
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * One JSON object per request. The query string is left out on purpose: it carries `?token=`.
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-logging.html
 */
function accessLogFormat(fields: Record<string, string>): apigw.AccessLogFormat {
  return apigw.AccessLogFormat.custom(
    JSON.stringify({
      requestId: '$context.requestId',
      ip: '$context.identity.sourceIp',
      requestTime: '$context.requestTimeEpoch',
      routeKey: '$context.routeKey',
      status: '$context.status',
      integrationStatus: '$context.integration.status',
      error: '$context.error.message',
      ...fields,
    }),
  );
}
