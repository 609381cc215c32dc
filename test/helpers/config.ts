import { LOCAL_DEV_SECRET, type Config } from '../../shared/config';
import { DEFAULT_DELIVERY_LANES, DEFAULT_SHARD_SIZE } from '../../shared/pipeline';

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
    postConcurrency: 64,
    connectionTtlSeconds: 3 * 3600,
    presenceTtlSeconds: 420,
    corsOrigins: ['*'],
    lanes: DEFAULT_DELIVERY_LANES,
    shardSize: DEFAULT_SHARD_SIZE,
    postTimeoutMs: 1000,
    retryBudgetMs: 1000,
    retryBaseSeconds: 0,
    ...overrides,
  };
}
