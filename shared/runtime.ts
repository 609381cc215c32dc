import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import type { AwsCredentialIdentity, Provider } from '@smithy/types';
import type { Context } from 'aws-lambda';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ChannelPolicy, parseChannelRules } from './channel-rules';
import { withClientMiddleware } from './client-middleware';
import { loadConfig, type Config } from './config';
import { systemClock, type Clock } from './clock';
import { envCredentials } from './env-credentials';
import type { Poster } from './management-api';
import type { PostRateLimiter } from './post-rate';
import { resolveJwtSecret } from './secret-source';
import { Db } from './store/db';
import type { Log, MetricsSink } from './telemetry';
import type { TokenVerifier } from './tokens';

/**
 * Everything a handler needs, built once per container from the environment. Tests build their own
 * with `runtimeFrom` and hand in DynamoDB Local, a recording log and a test management server.
 */
export interface Runtime {
  config: Config;
  clock: Clock;
  db: Db;
  policy: ChannelPolicy;
  log: Log;
  metrics: MetricsSink;
  /** The container's `@connections` rate limiter (default: one per process, shared/lane-delivery.ts). */
  postLimiter?: PostRateLimiter;
  /** What only some functions use: see OnDemand. */
  readonly onDemand: OnDemand;
}

/**
 * What only some functions use, each built on first use by the module that uses it and then kept
 * for the runtime's life (its `withLog` views share it):
 * - the SQS client for the pipeline's queues: `sqsFor` (shared/sqs-client.ts; fanout, sequencer, deliver);
 * - the token verifier: `verifierFor` (shared/tokens.ts; connect, http);
 * - the `@connections` posters: `posterFor` (shared/lean-poster.ts; connect, disconnect, message, deliver).
 * This module imports none of them, so each function's bundle holds only the libraries its own code
 * reaches: no SQS client where nothing sends to a queue, no JWT library where no token is verified
 * (docs/performance.md, "Bundles"). Tests and tools may hand them in (RuntimeParts).
 */
export interface OnDemand {
  /** The credentials the DynamoDB client signs with; the posters sign with them too. */
  readonly credentials: Provider<AwsCredentialIdentity>;
  /** The HS256 secret resolved at start-up (Secrets Manager, SSM) or handed in; else the config's. */
  readonly jwtSecret?: string;
  sqs?: SQSClient;
  verifier?: TokenVerifier;
  /** A poster for a management API endpoint, instead of the lean poster. */
  readonly poster?: (endpoint: string) => Poster;
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
  return {
    config,
    clock,
    db: new Db(doc, config.tableName, clock),
    policy: new ChannelPolicy(config.channelRulesJson ? parseChannelRules(config.channelRulesJson) : undefined),
    log: parts.log ?? powertoolsLog(),
    metrics: parts.metrics ?? powertoolsMetrics(),
    postLimiter: parts.postLimiter,
    onDemand: {
      credentials: dynamo.config.credentials,
      jwtSecret: parts.jwtSecret,
      sqs: parts.sqs && withClientMiddleware(parts.sqs),
      poster: parts.poster,
    },
  };
}

export async function createRuntime(env: NodeJS.ProcessEnv = process.env): Promise<Runtime> {
  const config = loadConfig(env);
  const jwtSecret = await resolveJwtSecret(config, env);
  return runtimeFrom({ config, jwtSecret });
}

/** The same runtime, logging through `log` (one invocation's log: shared/handler.ts). */
export function withLog(rt: Runtime, log: Log): Runtime {
  // A view, not a copy: the rest (what is built on demand included) stays the runtime's own.
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
