import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ChannelPolicy, parseChannelRules } from './channel-rules';
import { withClientMiddleware } from './client-middleware';
import { loadConfig, type Config } from './config';
import { systemClock, type Clock } from './clock';
import { envCredentials } from './env-credentials';
import { LeanPoster } from './lean-poster';
import type { Poster } from './management-api';
import type { PostRateLimiter } from './post-rate';
import { resolveJwtSecret } from './secret-source';
import { Db } from './store/db';
import type { Log, MetricsSink } from './telemetry';
import { TokenVerifier } from './tokens';

/**
 * Everything a handler needs, built once per container from the environment. Tests build their own
 * with `runtimeFrom` and hand in DynamoDB Local, a recording log and a test management server.
 */
export interface Runtime {
  config: Config;
  clock: Clock;
  db: Db;
  policy: ChannelPolicy;
  verifier: TokenVerifier;
  log: Log;
  metrics: MetricsSink;
  /** A poster for a management API endpoint. */
  poster(endpoint: string): Poster;
  /** The pipeline's queues (shared/pipeline.ts). */
  sqs: SQSClient;
  /** The container's `@connections` rate limiter (default: one per process, shared/lane-delivery.ts). */
  postLimiter?: PostRateLimiter;
}

export interface RuntimeParts {
  config: Config;
  jwtSecret?: string;
  clock?: Clock;
  dynamo?: DynamoDBClient;
  log?: Log;
  metrics?: MetricsSink;
  poster?: (endpoint: string) => Poster;
  sqs?: SQSClient;
  postLimiter?: PostRateLimiter;
}

export function runtimeFrom(parts: RuntimeParts): Runtime {
  const { config } = parts;
  const clock = parts.clock ?? systemClock;
  // Credentials from the environment only, as Lambda provides them (shared/env-credentials.ts).
  const dynamo = withClientMiddleware(parts.dynamo ?? new DynamoDBClient({ credentials: envCredentials() }));
  const doc = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  // Built on first use: a function that never verifies tokens has no token source (see loadConfig).
  let verifier: TokenVerifier | undefined;
  return {
    config,
    clock,
    db: new Db(doc, config.tableName, clock),
    policy: new ChannelPolicy(config.channelRulesJson ? parseChannelRules(config.channelRulesJson) : undefined),
    get verifier() {
      verifier ??= new TokenVerifier({
        secret: parts.jwtSecret ?? config.jwtSecret,
        jwksUrl: config.jwksUrl,
        issuer: config.jwtIssuer,
        audience: config.jwtAudience,
        clock,
      });
      return verifier;
    },
    log: parts.log ?? powertoolsLog(),
    metrics: parts.metrics ?? powertoolsMetrics(),
    // The lean poster (one signed request per post), with the credentials and region the SDK resolves.
    poster: parts.poster ?? ((endpoint) => leanPoster(endpoint, dynamo, config)),
    // Requests go to the configured endpoint (AWS's, or the local emulator's), not the queue URL's host.
    sqs: withClientMiddleware(
      parts.sqs ?? new SQSClient({ useQueueUrlAsEndpoint: false, credentials: envCredentials() }),
    ),
    postLimiter: parts.postLimiter,
  };
}

const posters = new Map<string, Poster>();

function leanPoster(endpoint: string, dynamo: DynamoDBClient, config: Config): Poster {
  const key = `${endpoint} ${config.postConcurrency} ${config.postTimeoutMs}`;
  let poster = posters.get(key);
  if (!poster) {
    const region =
      process.env.AWS_REGION ??
      process.env.AWS_DEFAULT_REGION ??
      endpoint.match(/execute-api\.([a-z0-9-]+)\./)?.[1] ??
      'us-east-1';
    poster = new LeanPoster({
      endpoint,
      region,
      credentials: dynamo.config.credentials,
      maxSockets: config.postConcurrency,
      timeoutMs: config.postTimeoutMs,
    });
    posters.set(key, poster);
  }
  return poster;
}

export async function createRuntime(env: NodeJS.ProcessEnv = process.env): Promise<Runtime> {
  const config = loadConfig(env);
  const jwtSecret = await resolveJwtSecret(config, env);
  return runtimeFrom({ config, jwtSecret });
}

/** The same runtime, logging through `log` (one invocation's log: shared/handler.ts). */
export function withLog(rt: Runtime, log: Log): Runtime {
  // A view, not a copy: the rest (the lazily built verifier included) stays the runtime's own.
  return Object.create(rt, { log: { value: log, enumerable: true } }) as Runtime;
}

let shared: Promise<Runtime> | undefined;

/** The container's runtime, created on first use; a failed creation is retried next invocation. */
export function defaultRuntime(): Promise<Runtime> {
  shared ??= createRuntime().catch((err: unknown) => {
    shared = undefined;
    throw err;
  });
  return shared;
}

function powertoolsLog(logger = new Logger({ serviceName: 'switchboard' })): Log {
  const at = (fn: (m: string, ...e: Record<string, unknown>[]) => void) => (m: string, e?: Record<string, unknown>) =>
    e ? fn(m, e) : fn(m);
  return {
    debug: at(logger.debug.bind(logger)),
    info: at(logger.info.bind(logger)),
    warn: at(logger.warn.bind(logger)),
    error: at(logger.error.bind(logger)),
    forInvocation(keys, context) {
      const child = logger.createChild();
      // addContext reads the fields Lambda's context has; the local runtime's context has only some,
      // and the ones missing are left out of the lines.
      if (context) child.addContext(context as Context);
      child.appendKeys(keys);
      return powertoolsLog(child);
    },
  };
}

function powertoolsMetrics(): MetricsSink {
  const metrics = new Metrics({ namespace: 'Switchboard', serviceName: 'switchboard' });
  let pending = false;
  return {
    count(name, value = 1) {
      metrics.addMetric(name, MetricUnit.Count, value);
      pending = true;
    },
    flush() {
      if (pending) metrics.publishStoredMetrics();
      pending = false;
    },
  };
}
