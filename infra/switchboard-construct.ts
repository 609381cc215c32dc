import * as path from 'node:path';
import { Annotations, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { Construct } from 'constructs';
import { parseChannelRules } from '../shared/channel-rules';
import { loadConfig } from '../shared/config';
import { DEFAULT_DELIVERY_LANES, DEFAULT_SHARD_SIZE, FUNCTION_SETTINGS, PIPELINE, PIPELINE_ENV } from '../shared/pipeline';
import { FUNCTIONS, HTTP_ROUTES, ROUTE_SELECTION_EXPRESSION, WEBSOCKET_ROUTES, type FunctionName } from '../shared/routes';
import { TABLE_DEFINITION } from '../shared/store/table-definition';
import { resolveJwtSecret, type JwtSecretSource } from './jwt-secret';
import { SwitchboardMonitoring } from './monitoring';
import { SwitchboardPipeline, type PipelineStage } from './pipeline';

export type { JwtSecretSource } from './jwt-secret';

/** How WebSocket access logs get the account's API Gateway CloudWatch Logs role (see the prop). */
export type ApiGatewayCloudWatchRole = 'create' | 'existing' | 'none';

/** Settings of one function that a deployment may change. */
export interface FunctionOverrides {
  /**
   * Memory in MB (128 to 10240); Lambda gives CPU in proportion.
   * @default FUNCTION_SETTINGS[name].memoryMb (shared/pipeline.ts)
   */
  readonly memorySize?: number;
}

/**
 * The functions that verify client tokens ($connect's `?token=`, the HTTP API's Bearer token): only
 * they get the token secret's location and the grant to read it (shared/connections-lifecycle.ts,
 * shared/http-api.ts). The others run with SWITCHBOARD_VERIFIES_TOKENS=false.
 */
const TOKEN_READERS: readonly FunctionName[] = ['connect', 'http'];

/** The WebSocket stage; the management endpoint and the `@connections` grant name it. */
export const WEBSOCKET_STAGE = 'prod';
const REPO_ROOT = path.resolve(__dirname, '..');

export interface SwitchboardProps {
  /**
   * Where the functions read the HS256 token secret: `{ secret }` (Secrets Manager),
   * `{ parameterName }` (SSM SecureString) or `{ jwksOnly: true }` (with `jwksUrl`). A secret
   * defined in this app whose value is the local-mode default `local-dev-secret` is refused.
   * @default - a new Secrets Manager secret with 64 random characters (see `generatedJwtSecret`)
   */
  readonly jwtSecret?: JwtSecretSource;
  /**
   * JWKS URL for RS256/ES256 tokens (Cognito, Auth0, ...), accepted besides HS256 ones.
   * @default - HS256 tokens only
   */
  readonly jwksUrl?: string;
  /**
   * Required `iss` claim.
   * @default - the issuer is not checked
   */
  readonly jwtIssuer?: string;
  /**
   * Required `aud` claim.
   * @default - the audience is not checked
   */
  readonly jwtAudience?: string;
  /**
   * Origins the HTTP API answers CORS requests for. Tokens travel in the Authorization header,
   * never in cookies, so `*` exposes nothing a caller's own token would not.
   * @default ['*']
   */
  readonly corsOrigins?: string[];
  /**
   * Events kept per channel for replay (protocol §6).
   * @default 100
   */
  readonly retainEvents?: number;
  /**
   * Seconds an event is kept for replay (protocol §6).
   * @default 300
   */
  readonly retainSeconds?: number;
  /**
   * Window in seconds in which a repeated publish `id` is dropped (protocol §4).
   * @default 3600
   */
  readonly idempotencySeconds?: number;
  /**
   * Management-API posts in flight per fanout invocation.
   * @default 64
   */
  readonly postConcurrency?: number;
  /**
   * Channel rules as JSON, replacing the built-in ones (shared/channel-rules.ts); checked at synth.
   * @default - the built-in rules
   */
  readonly channelRules?: string;
  /**
   * Delivery lanes: message groups of the delivery queue; a connection always uses the same lane, so
   * its frames stay in order while lanes are delivered in parallel.
   * @default DEFAULT_DELIVERY_LANES (16, shared/pipeline.ts)
   */
  readonly deliveryLanes?: number;
  /**
   * Connections per lane message at most; a bigger lane is split into several messages, in order.
   * @default DEFAULT_SHARD_SIZE (500, shared/pipeline.ts)
   */
  readonly shardSize?: number;
  /**
   * Concurrent `deliver` invocations at most (the delivery event source mapping's maximum
   * concurrency, 2 to 1000). More than `deliveryLanes` is never used: each lane is one message group.
   * @default PIPELINE.delivery.maxConcurrency (16, shared/pipeline.ts)
   */
  readonly deliverMaxConcurrency?: number;
  /**
   * Per-function overrides, by entry point name (`connect`, `fanout`, `deliver`, ...).
   * @default - memory from FUNCTION_SETTINGS (shared/pipeline.ts)
   */
  readonly functions?: Partial<Record<FunctionName, FunctionOverrides>>;
  /**
   * Retention of the function and access log groups.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the table, the log groups, the generated secret and the topic key when they
   * leave the stack. RETAIN also turns on the table's deletion protection.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Steady-state requests per second and burst allowed on every route of both APIs.
   * @default { rateLimit: 1000, burstLimit: 500 }
   */
  readonly throttle?: apigwv2.ThrottleSettings;
  /**
   * An existing SNS topic for alarm notifications.
   * @default - a new KMS-encrypted topic
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * An e-mail address subscribed to the alarm topic (the recipient must confirm it).
   * @default - no subscription
   */
  readonly alarmEmail?: string;
  /**
   * WebSocket access logs need the API Gateway CloudWatch Logs role of the account, one setting per
   * account and region (AWS::ApiGateway::Account) shared by every REST and WebSocket API there; HTTP
   * API logs do not need it. Choose:
   * - `'create'`: create a role only API Gateway can assume, with AWS's AmazonAPIGatewayPushToCloudWatchLogs
   *   policy, and set it as the account's role. It REPLACES a role another stack or the console set
   *   (same permissions, so their logs keep flowing); role and setting are retained when this stack is
   *   deleted, because other APIs come to rely on them. Synth says so in an info message.
   * - `'existing'`: the account already has a role; nothing account-wide is touched. The deploy
   *   fails with "CloudWatch Logs role ARN must be set in account settings" if it has none.
   * - `'none'`: no WebSocket access logs, nothing account-wide.
   * @default 'create' (works in a fresh account)
   */
  readonly apiGatewayCloudWatchRole?: ApiGatewayCloudWatchRole;
}

/**
 * Switchboard on AWS: an API Gateway WebSocket API for browsers, an HTTP API for polling, an SNS
 * topic for backends feeding a queue pipeline (shared/pipeline.ts), one DynamoDB table, one Lambda
 * function per entry point in FUNCTIONS, alarms and a dashboard.
 */
export class Switchboard extends Construct {
  readonly table: dynamodb.Table;
  readonly topic: sns.Topic;
  readonly topicKey: kms.Key;
  readonly webSocketApi: apigwv2.WebSocketApi;
  readonly webSocketStage: apigwv2.WebSocketStage;
  readonly httpApi: apigwv2.HttpApi;
  readonly httpStage: apigwv2.HttpStage;
  readonly functions: Record<FunctionName, NodejsFunction>;
  /** The delivery pipeline: queues, dead-letter queues and event source mappings. */
  readonly pipeline: SwitchboardPipeline;
  /** Source queues: `ingest` (standard, fed by the topic), `order` and `delivery` (FIFO). */
  readonly queues: Record<PipelineStage, sqs.Queue>;
  /** Dead-letter queues of the three source queues, and `subscription` (SNS → ingest failures). */
  readonly deadLetterQueues: Record<PipelineStage | 'subscription', sqs.Queue>;
  /** Attach to the roles or users of backends that publish (sns:Publish and the topic key). */
  readonly publisherPolicy: iam.ManagedPolicy;
  readonly monitoring: SwitchboardMonitoring;
  /** The token secret this construct generated, when `jwtSecret` was not given. */
  readonly generatedJwtSecret?: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: SwitchboardProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const throttle = props.throttle ?? { rateLimit: 1000, burstLimit: 500 };
    const deliveryLanes = props.deliveryLanes ?? DEFAULT_DELIVERY_LANES;
    const shardSize = props.shardSize ?? DEFAULT_SHARD_SIZE;
    const deliverMaxConcurrency = props.deliverMaxConcurrency ?? PIPELINE.delivery.maxConcurrency;

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_DEFINITION.partitionKey.name, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_DEFINITION.sortKey.name, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: TABLE_DEFINITION.timeToLiveAttribute,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });

    // One customer-managed key for the event topic and the alarm topic: CloudWatch can publish to a
    // topic encrypted with it (the AWS-managed aws/sns key does not allow that), and backends in
    // other accounts can be granted it.
    this.topicKey = new kms.Key(this, 'TopicKey', {
      description: 'Switchboard: encrypts the event and alarm SNS topics',
      enableKeyRotation: true,
      removalPolicy,
    });
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'Switchboard events', masterKey: this.topicKey, enforceSSL: true });

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
      // https://{apiId}.execute-api.{region}.amazonaws.com/prod, built from the API id rather than
      // the stage so the functions do not wait for the stage.
      SWITCHBOARD_WS_MANAGEMENT_ENDPOINT: `https://${this.webSocketApi.apiId}.execute-api.${Stack.of(this).region}.${Stack.of(this).urlSuffix}/${WEBSOCKET_STAGE}`,
      ...(props.channelRules !== undefined && { SWITCHBOARD_CHANNEL_RULES: props.channelRules }),
      // Every function knows the lane layout; the pipeline adds each consumer's queue URLs.
      [PIPELINE_ENV.lanes]: String(deliveryLanes),
      [PIPELINE_ENV.shardSize]: String(shardSize),
    };
    checkConfiguration({ ...environment, ...tokenEnvironment }, props, { deliveryLanes, shardSize, deliverMaxConcurrency });

    const make = (name: FunctionName) =>
      this.lambdaFunction(name, {
        environment: { ...environment, ...(TOKEN_READERS.includes(name) ? tokenEnvironment : { SWITCHBOARD_VERIFIES_TOKENS: 'false' }) },
        logRetention,
        removalPolicy,
        memorySize: props.functions?.[name]?.memorySize ?? FUNCTION_SETTINGS[name].memoryMb,
      });
    this.functions = Object.fromEntries(FUNCTIONS.map((name) => [name, make(name)])) as Record<FunctionName, NodejsFunction>;

    // Least privilege: exactly the DynamoDB calls each handler makes (shared/store/*). Transactional
    // items are authorised one by one, as PutItem/UpdateItem/DeleteItem/ConditionCheckItem. The
    // fanout only validates and forwards to the order queue: no table access.
    const tableActions: Record<FunctionName, string[]> = {
      connect: ['PutItem', 'BatchWriteItem', 'UpdateItem'],
      disconnect: ['Query', 'DeleteItem', 'BatchWriteItem', 'UpdateItem'],
      message: ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem'],
      fanout: [],
      sequencer: ['PutItem', 'UpdateItem', 'ConditionCheckItem', 'BatchGetItem', 'Query', 'GetItem'],
      deliver: ['Query', 'DeleteItem', 'BatchWriteItem', 'UpdateItem', 'GetItem'],
      http: ['GetItem', 'Query', 'BatchGetItem'],
    };
    for (const name of FUNCTIONS) {
      const fn = this.functions[name];
      if (tableActions[name].length > 0) fn.addToRolePolicy(new iam.PolicyStatement({ actions: tableActions[name].map((a) => `dynamodb:${a}`), resources: [this.table.tableArn] }));
      if (TOKEN_READERS.includes(name)) secret.grantRead(fn);
    }
    // Frames go out through the management API of this API's stage only (posts; nothing here reads
    // or deletes connections through it): `message` answers clients, `deliver` posts events.
    const connectionsArn = Stack.of(this).formatArn({ service: 'execute-api', resource: this.webSocketApi.apiId, resourceName: `${WEBSOCKET_STAGE}/POST/@connections/*` });
    for (const fn of [this.functions.message, this.functions.deliver]) {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['execute-api:ManageConnections'], resources: [connectionsArn] }));
      Validations.of(fn.role!).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagArn(this, connectionsArn)}]`,
        reason:
          "Connection ids are created by API Gateway at run time, so the grant names the @connections path of this API's stage, for POST only; " +
          'the trailing * stands for the connection id and nothing wider.',
      });
    }

    this.pipeline = new SwitchboardPipeline(this, 'Pipeline', { topic: this.topic, functions: this.functions, deliverMaxConcurrency, removalPolicy });
    this.queues = this.pipeline.queues;
    this.deadLetterQueues = this.pipeline.deadLetterQueues;

    const accountRole = props.apiGatewayCloudWatchRole ?? 'create';
    if (!['create', 'existing', 'none'].includes(accountRole)) throw new Error(`Switchboard: apiGatewayCloudWatchRole must be 'create', 'existing' or 'none', got ${JSON.stringify(accountRole)}`);
    const webSocketAccessLogs = accountRole === 'none' ? undefined : new logs.LogGroup(this, 'WebSocketAccessLogs', { retention: logRetention, removalPolicy });
    this.webSocketStage = new apigwv2.WebSocketStage(this, 'WebSocketStage', {
      webSocketApi: this.webSocketApi,
      stageName: WEBSOCKET_STAGE,
      autoDeploy: true,
      throttle,
      ...(webSocketAccessLogs && {
        accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(webSocketAccessLogs), format: accessLogFormat({ eventType: '$context.eventType', connectionId: '$context.connectionId', integrationLatency: '$context.integration.latency' }) },
      }),
    });
    if (accountRole === 'create') this.webSocketStage.node.addDependency(this.apiGatewayAccountLogging());
    if (accountRole === 'none') {
      Validations.of(this.webSocketStage).acknowledge({
        id: 'AwsSolutions-APIG1',
        reason: "Access logging of the WebSocket stage was turned off on purpose (apiGatewayCloudWatchRole: 'none'): it needs an account-wide API Gateway logging role this deployment may not set.",
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
    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', { description: 'Switchboard: polling fallback (/version, /events) and ops', createDefaultStage: false });
    const httpAccessLogs = new logs.LogGroup(this, 'HttpAccessLogs', { retention: logRetention, removalPolicy });
    this.httpStage = new apigwv2.HttpStage(this, 'HttpStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(httpAccessLogs), format: accessLogFormat({ method: '$context.httpMethod', responseLength: '$context.responseLength', latency: '$context.responseLatency' }) },
    });
    const httpIntegration = new HttpLambdaIntegration('HttpIntegration', this.functions.http);
    for (const route of HTTP_ROUTES) {
      if (route === '$default') {
        new apigwv2.HttpRoute(this, 'HttpDefaultRoute', { httpApi: this.httpApi, routeKey: apigwv2.HttpRouteKey.DEFAULT, integration: httpIntegration });
        continue;
      }
      const [method, routePath] = route.split(' ') as [string, string];
      this.httpApi.addRoutes({ path: routePath, methods: [method as apigwv2.HttpMethod], integration: httpIntegration });
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

    this.publisherPolicy = new iam.ManagedPolicy(this, 'PublisherPolicy', {
      description: 'Switchboard: lets a backend publish events to the topic (attach to its role or user)',
      statements: [
        new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.topic.topicArn] }),
        // Publishing to a KMS-encrypted topic needs the publisher to use the key.
        new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [this.topicKey.keyArn] }),
      ],
    });

    this.monitoring = new SwitchboardMonitoring(this, 'Monitoring', {
      functions: this.functions,
      queues: this.queues,
      deadLetterQueues: this.deadLetterQueues,
      topic: this.topic,
      topicKey: this.topicKey,
      webSocketApi: this.webSocketApi,
      webSocketStage: WEBSOCKET_STAGE,
      httpApi: this.httpApi,
      alarmTopic: props.alarmTopic,
      alarmEmail: props.alarmEmail,
    });
  }

  /**
   * One function per entry point in FUNCTIONS: Node.js 22 on arm64, bundled by the locally
   * installed esbuild (no Docker), with its own role (no managed policies) and log group.
   */
  private lambdaFunction(
    name: FunctionName,
    opts: Partial<lambda.FunctionProps> & { environment: Record<string, string>; logRetention: logs.RetentionDays; removalPolicy: RemovalPolicy },
  ): NodejsFunction {
    const { logRetention, removalPolicy, environment, ...rest } = opts;
    const id = pascal(name);
    const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention: logRetention, removalPolicy });
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Switchboard ${name} function`,
    });
    // Instead of AWSLambdaBasicExecutionRole (logs in any group): write to this function's group only.
    logGroup.grantWrite(role);
    const fn = new NodejsFunction(this, `${id}Function`, {
      entry: path.join(REPO_ROOT, 'functions', `${name}.ts`),
      handler: 'handler',
      description: `Switchboard ${name}`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.seconds(FUNCTION_SETTINGS[name].timeoutSeconds),
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: { ...environment, NODE_OPTIONS: '--enable-source-maps' },
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      bundling: {
        forceDockerBundling: false,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        target: 'node22',
        format: OutputFormat.CJS,
        // ESM builds of the AWS SDK tree-shake better. The SDK is bundled (not taken from the
        // runtime) so Lambda runs the versions package-lock.json pins and the tests ran.
        mainFields: ['module', 'main'],
        externalModules: [],
      },
      ...rest,
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the runtime this project targets (design.md) and the esbuild target of its bundles; it is a supported Lambda runtime that AWS ' +
        'keeps patched until its announced deprecation. Moving to Node.js 24 is a deliberate change made with its own test run, not a silent upgrade.',
    });
    return fn;
  }

  /**
   * WebSocket stages log through the account's API Gateway CloudWatch role (HTTP APIs do not need
   * it); without one, deploying a stage with access logs fails. Retained on delete, because other
   * APIs in the account come to rely on it.
   */
  private apiGatewayAccountLogging(): Construct {
    const role = new iam.Role(this, 'ApiGatewayCloudWatchRole', {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
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
function checkConfiguration(
  environment: Record<string, string>,
  props: SwitchboardProps,
  pipeline: { deliveryLanes: number; shardSize: number; deliverMaxConcurrency: number },
): void {
  const problems: string[] = [];
  const intIn = (name: string, value: number, min: number, max: number) => {
    if (!Token.isUnresolved(value) && (!Number.isInteger(value) || value < min || value > max)) problems.push(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  };
  intIn('deliveryLanes', pipeline.deliveryLanes, 1, 10_000);
  intIn('shardSize', pipeline.shardSize, 1, 100_000);
  // Lambda's limits for an SQS event source's maximum concurrency.
  intIn('deliverMaxConcurrency', pipeline.deliverMaxConcurrency, 2, 1000);
  for (const [name, o] of Object.entries(props.functions ?? {})) {
    if (!(FUNCTIONS as readonly string[]).includes(name)) problems.push(`functions.${name}: no such function (the functions are ${FUNCTIONS.join(', ')})`);
    else if (o?.memorySize !== undefined) intIn(`functions.${name}.memorySize`, o.memorySize, 128, 10_240);
  }
  if (problems.length > 0) throw new Error(`Switchboard: ${problems.join('; ')}`);
  const env = { ...environment };
  if (props.jwksUrl !== undefined && Token.isUnresolved(props.jwksUrl)) env.SWITCHBOARD_JWKS_URL = 'https://resolved-at-deploy.invalid';
  loadConfig(env);
  if (props.channelRules !== undefined && !Token.isUnresolved(props.channelRules)) parseChannelRules(props.channelRules);
}

/** How cdk-nag prints a resource in a finding id: references as `<LogicalId>`, pseudo parameters as `<AWS::Region>`. */
function nagArn(scope: Construct, arn: string): string {
  return flattenCfnReference(Stack.of(scope).resolve(arn));
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
