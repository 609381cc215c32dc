import { z } from 'zod';

/**
 * Configuration, read from the environment once. Every handler and the local runtime use the same
 * names; a missing or invalid value fails at start-up with a message naming the variable.
 */
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
  /** `https://{api}.execute-api.{region}.amazonaws.com/{stage}`; required by fanout. */
  managementEndpoint?: string;
  corsOrigins: string[];
  /** JSON channel-rule list replacing the built-in one (see channel-rules.ts). */
  channelRulesJson?: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const intVar = (name: string, def: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `${name} must be an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const envSchema = z.object({
  SWITCHBOARD_TABLE_NAME: z.string({ error: 'SWITCHBOARD_TABLE_NAME is required (the DynamoDB table name)' }).min(1, 'SWITCHBOARD_TABLE_NAME is empty'),
  SWITCHBOARD_JWT_SECRET: optionalString,
  SWITCHBOARD_JWT_SECRET_ARN: optionalString,
  SWITCHBOARD_JWT_SECRET_PARAMETER: optionalString,
  SWITCHBOARD_JWKS_URL: optionalString,
  SWITCHBOARD_JWT_ISSUER: optionalString,
  SWITCHBOARD_JWT_AUDIENCE: optionalString,
  SWITCHBOARD_RETAIN_EVENTS: intVar('SWITCHBOARD_RETAIN_EVENTS', 100, 0, 100_000),
  SWITCHBOARD_RETAIN_SECONDS: intVar('SWITCHBOARD_RETAIN_SECONDS', 300, 0, 86_400),
  SWITCHBOARD_IDEMPOTENCY_SECONDS: intVar('SWITCHBOARD_IDEMPOTENCY_SECONDS', 3600, 1, 604_800),
  SWITCHBOARD_MAX_FRAME_BYTES: intVar('SWITCHBOARD_MAX_FRAME_BYTES', 4096, 64, 32_768),
  SWITCHBOARD_MAX_SUBSCRIPTIONS: intVar('SWITCHBOARD_MAX_SUBSCRIPTIONS', 100, 1, 10_000),
  SWITCHBOARD_POST_CONCURRENCY: intVar('SWITCHBOARD_POST_CONCURRENCY', 32, 1, 1_000),
  SWITCHBOARD_CONNECTION_TTL_SECONDS: intVar('SWITCHBOARD_CONNECTION_TTL_SECONDS', 3 * 3600, 60, 7 * 86_400),
  SWITCHBOARD_WS_MANAGEMENT_ENDPOINT: optionalString,
  SWITCHBOARD_CORS_ORIGINS: optionalString,
  SWITCHBOARD_CHANNEL_RULES: optionalString,
});

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => i.message).join('; ');
    throw new ConfigError(`Switchboard configuration is invalid: ${problems}`);
  }
  const e = parsed.data;
  if (!e.SWITCHBOARD_JWT_SECRET && !e.SWITCHBOARD_JWT_SECRET_ARN && !e.SWITCHBOARD_JWT_SECRET_PARAMETER && !e.SWITCHBOARD_JWKS_URL) {
    throw new ConfigError(
      'Switchboard configuration is invalid: set SWITCHBOARD_JWT_SECRET (HS256 shared secret), SWITCHBOARD_JWT_SECRET_ARN / SWITCHBOARD_JWT_SECRET_PARAMETER (where to read it) or SWITCHBOARD_JWKS_URL (RS256/ES256 keys)',
    );
  }
  if (e.SWITCHBOARD_JWKS_URL && !/^https?:\/\//.test(e.SWITCHBOARD_JWKS_URL)) {
    throw new ConfigError(`Switchboard configuration is invalid: SWITCHBOARD_JWKS_URL must be an http(s) URL, got "${e.SWITCHBOARD_JWKS_URL}"`);
  }
  return {
    tableName: e.SWITCHBOARD_TABLE_NAME,
    jwtSecret: e.SWITCHBOARD_JWT_SECRET,
    jwtSecretArn: e.SWITCHBOARD_JWT_SECRET_ARN,
    jwtSecretParameter: e.SWITCHBOARD_JWT_SECRET_PARAMETER,
    jwksUrl: e.SWITCHBOARD_JWKS_URL,
    jwtIssuer: e.SWITCHBOARD_JWT_ISSUER,
    jwtAudience: e.SWITCHBOARD_JWT_AUDIENCE,
    retainEvents: e.SWITCHBOARD_RETAIN_EVENTS,
    retainSeconds: e.SWITCHBOARD_RETAIN_SECONDS,
    idempotencySeconds: e.SWITCHBOARD_IDEMPOTENCY_SECONDS,
    maxFrameBytes: e.SWITCHBOARD_MAX_FRAME_BYTES,
    maxSubscriptions: e.SWITCHBOARD_MAX_SUBSCRIPTIONS,
    postConcurrency: e.SWITCHBOARD_POST_CONCURRENCY,
    connectionTtlSeconds: e.SWITCHBOARD_CONNECTION_TTL_SECONDS,
    managementEndpoint: e.SWITCHBOARD_WS_MANAGEMENT_ENDPOINT,
    corsOrigins: (e.SWITCHBOARD_CORS_ORIGINS ?? '*').split(',').map((s) => s.trim()).filter(Boolean),
    channelRulesJson: e.SWITCHBOARD_CHANNEL_RULES,
  };
}

/** Defaults for tests and tools: a full config from a few overrides. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    tableName: 'switchboard-test',
    jwtSecret: LOCAL_DEV_SECRET,
    retainEvents: 100,
    retainSeconds: 300,
    idempotencySeconds: 3600,
    maxFrameBytes: 4096,
    maxSubscriptions: 100,
    postConcurrency: 32,
    connectionTtlSeconds: 3 * 3600,
    corsOrigins: ['*'],
    ...overrides,
  };
}
