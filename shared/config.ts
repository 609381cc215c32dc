/**
 * Configuration, read from the environment once. Every handler and the local runtime use the same
 * names; a missing or invalid value fails at start-up with a message naming the variable.
 */
import { DEFAULT_DELIVERY_LANES, DEFAULT_SHARD_SIZE, PIPELINE_ENV } from './pipeline';

export const LOCAL_DEV_SECRET = 'local-dev-secret';

export interface Config {
  tableName: string;
  /** HS256 shared secret; at least one of jwtSecret / jwksUrl is set. */
  jwtSecret?: string;
  /** Secrets Manager secret (ARN or name) holding the HS256 secret; read at start-up. */
  jwtSecretArn?: string;
  /** SSM SecureString parameter holding the HS256 secret; read at start-up. */
  jwtSecretParameter?: string;
  jwksUrl?: string;
  jwtIssuer?: string;
  jwtAudience?: string;
  retainEvents: number;
  retainSeconds: number;
  idempotencySeconds: number;
  maxFrameBytes: number;
  maxSubscriptions: number;
  postConcurrency: number;
  /** Connection records expire after this many seconds (API Gateway closes at 2 h). */
  connectionTtlSeconds: number;
  /**
   * A connection counts as present on a presence channel for this long after its last subscribe or
   * ping (protocol §8): a connection whose `$disconnect` never came leaves once this has passed and
   * a live subscriber's ping (or a `presence` request) sweeps it.
   */
  presenceTtlSeconds: number;
  /** `https://{api}.execute-api.{region}.amazonaws.com/{stage}`; required by fanout. */
  managementEndpoint?: string;
  corsOrigins: string[];
  /** JSON channel-rule list replacing the built-in one (see channel-rules.ts). */
  channelRulesJson?: string;
  /** Pipeline queues (shared/pipeline.ts); each function needs only its own. */
  ingestQueueUrl?: string;
  orderQueueUrl?: string;
  deliveryQueueUrl?: string;
  /** Delivery lanes (message groups of the delivery queue). */
  lanes: number;
  /** Connections per lane message at most. */
  shardSize: number;
  /** A `@connections` post not answered within this is abandoned (and retried within the budget). */
  postTimeoutMs: number;
  /** Per connection and invocation: how long failed posts (429, 5xx, timeouts) are retried before skipping. */
  retryBudgetMs: number;
  /** A failed record comes back after base × 2^(receives-1) seconds (capped at 30); 0 = at once. */
  retryBaseSeconds: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** Reads one variable each; problems are collected so one start-up error names them all. */
class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  str(name: string): string | undefined {
    const v = this.env[name]?.trim();
    return v ? v : undefined;
  }

  required(name: string, what: string): string {
    const v = this.str(name);
    if (v === undefined) this.problems.push(`${name} is required (${what})`);
    return v ?? '';
  }

  int(name: string, def: number, min: number, max: number): number {
    const raw = this.str(name);
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return def;
    }
    return n;
  }
}

export function loadConfig(env: Env = process.env): Config {
  const r = new EnvReader(env);
  const config: Config = {
    tableName: r.required('SWITCHBOARD_TABLE_NAME', 'the DynamoDB table name'),
    jwtSecret: r.str('SWITCHBOARD_JWT_SECRET'),
    jwtSecretArn: r.str('SWITCHBOARD_JWT_SECRET_ARN'),
    jwtSecretParameter: r.str('SWITCHBOARD_JWT_SECRET_PARAMETER'),
    jwksUrl: r.str('SWITCHBOARD_JWKS_URL'),
    jwtIssuer: r.str('SWITCHBOARD_JWT_ISSUER'),
    jwtAudience: r.str('SWITCHBOARD_JWT_AUDIENCE'),
    retainEvents: r.int('SWITCHBOARD_RETAIN_EVENTS', 100, 0, 100_000),
    retainSeconds: r.int('SWITCHBOARD_RETAIN_SECONDS', 300, 0, 86_400),
    idempotencySeconds: r.int('SWITCHBOARD_IDEMPOTENCY_SECONDS', 3600, 1, 604_800),
    maxFrameBytes: r.int('SWITCHBOARD_MAX_FRAME_BYTES', 4096, 64, 32_768),
    maxSubscriptions: r.int('SWITCHBOARD_MAX_SUBSCRIPTIONS', 100, 1, 10_000),
    // 64: measured by the fanout-engine bench as the fastest of 16/32/64/128 for 1000–5000 connections.
    postConcurrency: r.int('SWITCHBOARD_POST_CONCURRENCY', 64, 1, 1_000),
    connectionTtlSeconds: r.int('SWITCHBOARD_CONNECTION_TTL_SECONDS', 3 * 3600, 60, 7 * 86_400),
    // 7 min: the client pings every 5 min; 2 more for a hidden tab's throttled timer (Chrome runs them
    // once a minute) and the pong. API Gateway's idle timeout (10 min) closes a silent connection anyway.
    presenceTtlSeconds: r.int('SWITCHBOARD_PRESENCE_TTL_SECONDS', 420, 1, 86_400),
    managementEndpoint: r.str('SWITCHBOARD_WS_MANAGEMENT_ENDPOINT'),
    corsOrigins: (r.str('SWITCHBOARD_CORS_ORIGINS') ?? '*')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    channelRulesJson: r.str('SWITCHBOARD_CHANNEL_RULES'),
    ingestQueueUrl: r.str(PIPELINE_ENV.ingestQueueUrl),
    orderQueueUrl: r.str(PIPELINE_ENV.orderQueueUrl),
    deliveryQueueUrl: r.str(PIPELINE_ENV.deliveryQueueUrl),
    lanes: r.int(PIPELINE_ENV.lanes, DEFAULT_DELIVERY_LANES, 1, 1000),
    shardSize: r.int(PIPELINE_ENV.shardSize, DEFAULT_SHARD_SIZE, 1, 2000),
    // 1 s: a healthy post answers in tens of milliseconds; a hung one must not hold its lane for long.
    postTimeoutMs: r.int('SWITCHBOARD_POST_TIMEOUT_MS', 1000, 100, 60_000),
    // 1 s: a buffer-full (429) client gets a second to drain before this event is skipped for it.
    retryBudgetMs: r.int('SWITCHBOARD_RETRY_BUDGET_MS', 1000, 0, 60_000),
    retryBaseSeconds: r.int('SWITCHBOARD_RETRY_BASE_SECONDS', 1, 0, 30),
  };
  // The AWS stack gives a token source only to the functions that verify tokens (connect, http) and
  // marks the others with SWITCHBOARD_VERIFIES_TOKENS=false, so they neither need nor read one.
  const verifiesTokens = r.str('SWITCHBOARD_VERIFIES_TOKENS') !== 'false';
  if (verifiesTokens && !config.jwtSecret && !config.jwtSecretArn && !config.jwtSecretParameter && !config.jwksUrl) {
    r.problems.push(
      'set SWITCHBOARD_JWT_SECRET (HS256 shared secret), SWITCHBOARD_JWT_SECRET_ARN / SWITCHBOARD_JWT_SECRET_PARAMETER (where to read it) or SWITCHBOARD_JWKS_URL (RS256/ES256 keys)',
    );
  }
  if (config.jwksUrl && !/^https?:\/\//.test(config.jwksUrl))
    r.problems.push(`SWITCHBOARD_JWKS_URL must be an http(s) URL, got "${config.jwksUrl}"`);
  if (r.problems.length > 0) throw new ConfigError(`Switchboard configuration is invalid: ${r.problems.join('; ')}`);
  return config;
}
