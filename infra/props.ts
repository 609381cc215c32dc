import { Token, type RemovalPolicy } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { FUNCTIONS, type FunctionName } from '../shared/routes';
import type { JwtSecretSource } from './jwt-secret';

/** How WebSocket access logs get the account's API Gateway CloudWatch Logs role (see the prop). */
export type ApiGatewayCloudWatchRole = 'create' | 'existing' | 'none';

/** Settings of one function that a deployment may change. */
export interface FunctionOverrides {
  /**
   * Memory in MB (128 to 10240); Lambda gives CPU in proportion.
   * @default FUNCTION_SETTINGS[name].memoryMb (shared/pipeline.ts)
   */
  readonly memorySize?: number;
  /**
   * Retention of this function's log group.
   * @default - the construct's `logRetention`
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * What the table must look like to be used as `existingTable` (shared/store/table-definition.ts):
 * partition key `pk` and sort key `sk`, both strings, TTL on attribute `ttl`. Everything else (billing,
 * encryption, PITR, streams, replicas) is yours to choose.
 */
export type SwitchboardTableProps = Omit<dynamodb.TableProps, 'partitionKey' | 'sortKey' | 'timeToLiveAttribute'>;

/** The event topic Switchboard creates: anything but FIFO (publishers give no group id). */
export type SwitchboardTopicProps = Omit<sns.TopicProps, 'fifo' | 'contentBasedDeduplication'>;

/**
 * Props of the {@link Switchboard} construct, in the style of AWS Solutions Constructs: for each
 * resource an `existingX` to bring your own or `xProps` to adjust the one it creates (never both),
 * and a production-safe default for everything.
 */
export interface SwitchboardProps {
  /**
   * A DynamoDB table to use instead of creating one. It must have partition key `pk` and sort key
   * `sk` (strings) and TTL on `ttl`; a table defined in the same app is checked at synth. Switchboard
   * items never collide with others only if the table is Switchboard's alone: give it its own table.
   * @default - a new on-demand table with TTL, point-in-time recovery and deletion protection (with RETAIN)
   */
  readonly existingTable?: dynamodb.ITable;
  /**
   * Changes to the table Switchboard creates (billing mode, encryption, ...); its keys and TTL are fixed.
   * @default - on-demand, AWS-managed encryption, point-in-time recovery, `removalPolicy`
   */
  readonly tableProps?: SwitchboardTableProps;
  /**
   * An SNS topic backends already publish to (standard, not FIFO). Switchboard subscribes its ingest
   * queue to it; the topic's policy and key stay yours (an encrypted topic needs nothing more for SQS).
   * @default - a new topic encrypted with `encryptionKey`, TLS only
   */
  readonly existingTopic?: sns.ITopic;
  /**
   * Changes to the event topic Switchboard creates.
   * @default - display name "Switchboard events", encrypted with `encryptionKey`, TLS only
   */
  readonly topicProps?: SwitchboardTopicProps;
  /**
   * An SNS topic for alarm notifications. A topic defined in this app gets a statement letting this
   * account's CloudWatch alarms publish; an imported one must already allow it (docs/deploy.md,
   * "Bringing your own alarm topic").
   * @default - a new topic encrypted with `encryptionKey`, TLS only, that this account's alarms may publish to
   */
  readonly existingAlarmTopic?: sns.ITopic;
  /**
   * The customer-managed KMS key for the topics Switchboard creates. Its key policy must let
   * CloudWatch use it (a key defined in this app gets that statement) or alarms cannot publish.
   * @default - a new key with rotation, when Switchboard creates a topic
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Name of the WebSocket API stage: the last segment of the wss URL and of the management endpoint.
   * @default 'prod'
   */
  readonly stageName?: string;
  /**
   * Where the functions that verify tokens read the HS256 secret: `{ secret }` or `{ secretArn }`
   * (Secrets Manager), `{ parameterName }` (SSM SecureString), each with an optional `encryptionKey`,
   * or `{ jwksOnly: true }` (with `jwksUrl`). A secret defined in this app whose value is the
   * local-mode default `local-dev-secret` is refused.
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
   * Management-API posts in flight per invocation.
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
   * @default - memory from FUNCTION_SETTINGS (shared/pipeline.ts), log retention from `logRetention`
   */
  readonly functions?: Partial<Record<FunctionName, FunctionOverrides>>;
  /**
   * Retention of the function and access log groups.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to what Switchboard creates and may hold data (the table, log groups, generated
   * secret, topic key, dead-letter queues) when it leaves the stack. RETAIN also turns on the
   * table's deletion protection. Existing resources you pass in are never touched.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Steady-state requests per second and burst allowed on every route of both APIs.
   * @default { rateLimit: 1000, burstLimit: 500 }
   */
  readonly throttle?: apigwv2.ThrottleSettings;
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

/** The pipeline numbers after defaults, as checked. */
export interface PipelineNumbers {
  deliveryLanes: number;
  shardSize: number;
  deliverMaxConcurrency: number;
}

/**
 * Every problem with the props, found before anything is created: the pairs that exclude each
 * other (Solutions Constructs' rule: bring one or adjust one, not both), values the functions or
 * AWS would refuse. One error names them all.
 */
export function checkProps(props: SwitchboardProps, pipeline: PipelineNumbers): void {
  const problems: string[] = [];
  const pair = (existing: keyof SwitchboardProps, adjust: keyof SwitchboardProps) => {
    if (props[existing] !== undefined && props[adjust] !== undefined)
      problems.push(`give ${existing} or ${adjust}, not both (${adjust} changes a resource Switchboard creates)`);
  };
  pair('existingTable', 'tableProps');
  pair('existingTopic', 'topicProps');
  if (
    props.encryptionKey !== undefined &&
    props.existingTopic !== undefined &&
    props.existingAlarmTopic !== undefined
  ) {
    problems.push(
      'encryptionKey encrypts the topics Switchboard creates, and with existingTopic and existingAlarmTopic it creates none',
    );
  }
  const fixedTableKeys = ['partitionKey', 'sortKey', 'timeToLiveAttribute'].filter(
    (k) => props.tableProps !== undefined && k in props.tableProps,
  );
  if (fixedTableKeys.length > 0)
    problems.push(`tableProps cannot set ${fixedTableKeys.join(', ')}: the functions rely on pk/sk and TTL on ttl`);
  if (props.topicProps !== undefined && ('fifo' in props.topicProps || 'contentBasedDeduplication' in props.topicProps))
    problems.push('topicProps: the event topic is a standard topic (publishers give no message group id)');
  if (props.existingTopic?.fifo)
    problems.push(
      'existingTopic is a FIFO topic; Switchboard needs a standard topic (publishers give no message group id)',
    );
  if (
    props.alarmEmail !== undefined &&
    !Token.isUnresolved(props.alarmEmail) &&
    !/^[^@\s]+@[^@\s]+$/.test(props.alarmEmail)
  )
    problems.push(`alarmEmail is not an e-mail address: "${props.alarmEmail}"`);
  const stage = props.stageName;
  if (stage !== undefined && !Token.isUnresolved(stage) && !/^[A-Za-z0-9_-]{1,128}$/.test(stage))
    problems.push(`stageName must be 1 to 128 letters, digits, - or _, got "${stage}"`);

  const intIn = (name: string, value: number, min: number, max: number) => {
    if (!Token.isUnresolved(value) && (!Number.isInteger(value) || value < min || value > max))
      problems.push(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  };
  intIn('deliveryLanes', pipeline.deliveryLanes, 1, 10_000);
  intIn('shardSize', pipeline.shardSize, 1, 100_000);
  // Lambda's limits for an SQS event source's maximum concurrency.
  intIn('deliverMaxConcurrency', pipeline.deliverMaxConcurrency, 2, 1000);
  for (const [name, o] of Object.entries(props.functions ?? {})) {
    if (!(FUNCTIONS as readonly string[]).includes(name))
      problems.push(`functions.${name}: no such function (the functions are ${FUNCTIONS.join(', ')})`);
    else if (o?.memorySize !== undefined) intIn(`functions.${name}.memorySize`, o.memorySize, 128, 10_240);
  }
  if (problems.length > 0) throw new Error(`Switchboard: ${problems.join('; ')}`);
}
