import { startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';
import { parseFaults, type Faults } from './faults';
import type { LocalLog } from './log';
import { checkPortsFree } from './ports';
import type { RuntimeEvent } from './runtime';

/**
 * The local runtime's options, and what can be done with them before the handlers are loaded: this
 * module imports no handler and no AWS SDK, so `npm start` can read its options, check its ports and
 * start DynamoDB Local's JVM (the part that takes longest to come up) first, while it loads the rest.
 */
export interface RuntimeOptions {
  /** Ports on 127.0.0.1; 0 picks a free one. Defaults: 3000, 3001, 4566, 8000. */
  httpPort?: number;
  wsPort?: number;
  snsPort?: number;
  dynamodbPort?: number;
  /** Use this DynamoDB (e.g. an already running DynamoDB Local) instead of starting one. */
  dynamodbEndpoint?: string;
  /** Keep DynamoDB Local's data in this directory (default: in memory). */
  persistDir?: string;
  tableName?: string;
  region?: string;
  jwtSecret?: string;
  idleTimeoutMs?: number;
  maxAgeMs?: number;
  publicDir?: string;
  /**
   * Injected faults (SWITCHBOARD_LOCAL_FAULTS / SWITCHBOARD_LOCAL_SEED, docs/local.md "Faults"); one
   * seeded sequence shared by the DynamoDB fault proxy (ddb_throttle) and the fan-out invocations
   * (fanout_crash, fanout_timeout); the gateway thread (post_*) rolls its own, seeded from it. Default: none.
   */
  faults?: Faults;
  /** Test hook: true makes the next fanout invocation crash at its first AWS call. */
  takeFanoutFailure?: () => boolean;
  onEvent?: (e: RuntimeEvent) => void;
  log?: LocalLog;
  /** A part died on its own (DynamoDB Local crashed): the runtime is unusable. */
  onFatal?: (message: string) => void;
  /**
   * A DynamoDB Local already starting, its ports checked (`startEarly`): `npm start` starts the JVM
   * before it loads the handlers, and the runtime takes it over (and stops it).
   */
  dynamodb?: Promise<DynamoDbLocal>;
}

export const DEFAULT_PORTS = { http: 3000, ws: 3001, sns: 4566, dynamodb: 8000 } as const;

export function portsOf(opts: RuntimeOptions): Record<keyof typeof DEFAULT_PORTS, number> {
  return {
    http: opts.httpPort ?? DEFAULT_PORTS.http,
    ws: opts.wsPort ?? DEFAULT_PORTS.ws,
    sns: opts.snsPort ?? DEFAULT_PORTS.sns,
    dynamodb: opts.dynamodbPort ?? DEFAULT_PORTS.dynamodb,
  };
}

/** The ports to check before anything starts (0 = any free port, nothing to check). */
export function fixedPorts(opts: RuntimeOptions): { port: number; envName: string }[] {
  const ports = portsOf(opts);
  return [
    { port: ports.http, envName: 'HTTP_PORT' },
    { port: ports.ws, envName: 'WS_PORT' },
    { port: ports.sns, envName: 'SNS_PORT' },
    ...(opts.dynamodbEndpoint ? [] : [{ port: ports.dynamodb, envName: 'DYNAMODB_PORT' }]),
  ];
}

export const dynamodbPortOption = (ports: { dynamodb: number }) => (ports.dynamodb === 0 ? undefined : ports.dynamodb);

/**
 * Checks every fixed port (a taken one fails in a second, not after Java started), then starts
 * DynamoDB Local unless an endpoint is given. Pass the result to `startRuntime`.
 */
export async function startEarly(opts: RuntimeOptions): Promise<RuntimeOptions> {
  await checkPortsFree(fixedPorts(opts));
  if (opts.dynamodbEndpoint) return opts;
  const dynamodb = startDynamoDbLocal({ port: dynamodbPortOption(portsOf(opts)), persistDir: opts.persistDir });
  dynamodb.catch(() => undefined); // its failure is reported by startRuntime, which awaits it
  return { ...opts, dynamodb };
}

/**
 * Options from the environment (HTTP_PORT, WS_PORT, SNS_PORT, DYNAMODB_PORT, SWITCHBOARD_LOCAL_*).
 * A bad SWITCHBOARD_LOCAL_FAULTS / SWITCHBOARD_LOCAL_SEED throws FaultSpecError (one line).
 */
export function runtimeOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): RuntimeOptions {
  const int = (name: string, def?: number): number | undefined => {
    const v = env[name];
    if (v === undefined || v.trim() === '') return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      throw new Error(`${name} must be a port number (0 to 65535) or a number of milliseconds, got "${v}"`);
    return n;
  };
  const ms = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v.trim() === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive number of milliseconds, got "${v}"`);
    return n;
  };
  return {
    httpPort: int('HTTP_PORT', DEFAULT_PORTS.http),
    wsPort: int('WS_PORT', DEFAULT_PORTS.ws),
    snsPort: int('SNS_PORT', DEFAULT_PORTS.sns),
    dynamodbPort: int('DYNAMODB_PORT', DEFAULT_PORTS.dynamodb),
    dynamodbEndpoint: env.SWITCHBOARD_LOCAL_DYNAMODB_ENDPOINT || undefined,
    tableName: env.SWITCHBOARD_TABLE_NAME || undefined,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
    jwtSecret: env.SWITCHBOARD_JWT_SECRET || undefined,
    idleTimeoutMs: ms('SWITCHBOARD_LOCAL_IDLE_TIMEOUT_MS'),
    maxAgeMs: ms('SWITCHBOARD_LOCAL_MAX_AGE_MS'),
    faults: parseFaults(env.SWITCHBOARD_LOCAL_FAULTS, env.SWITCHBOARD_LOCAL_SEED),
  };
}
