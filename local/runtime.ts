import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { handler as deliverHandler } from '../functions/deliver';
import { handler as fanoutHandler } from '../functions/fanout';
import { handler as sequencerHandler } from '../functions/sequencer';
import { handler as httpHandler } from '../functions/http';
import { LOCAL_DEV_SECRET, loadConfig } from '../shared/config';
import { createTable } from '../shared/store/create-table';
import { startDdbFaultProxy } from './ddb-fault-proxy';
import { startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';
import { NO_FAULTS, parseFaults, type Faults } from './faults';
import { startHttpApi, type HttpExtension, type LocalHttpApi } from './http-api';
import type { LocalLog } from './log';
import { checkPortsFree } from './ports';
import { startPipeline, type LocalPipeline, type PipelineEvent } from './pipeline';
import { PIPELINE_ENV } from '../shared/pipeline';
import { startGatewayThread, type GatewayThread } from './gateway-thread';
import type { GatewayEvent } from './ws-gateway';
import { handlerGate } from './handler-gate';

/**
 * The whole system on one machine: DynamoDB Local (its JVM), the SNS/SQS emulator (a child process)
 * with the pipeline's event source mappings, the WebSocket gateway (+ management API, in a worker
 * thread with its route functions) and the HTTP API, all running the real handlers of functions/.
 * The handlers read their configuration from process.env, as in Lambda, so this sets it before
 * their first invocation (the gateway thread shares it): one runtime per process.
 */
export interface LocalEndpoints {
  websocketUrl: string;
  httpUrl: string;
  snsEndpoint: string;
  topicArn: string;
  region: string;
  dynamodbEndpoint: string;
  tableName: string;
  jwtSecret: string;
  demoUrl: string;
}

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
}

export type RuntimeEvent = GatewayEvent | PipelineEvent;

export interface LocalRuntime {
  endpoints: LocalEndpoints;
  /** The WebSocket gateway, in a worker thread with its functions (local/gateway-thread.ts). */
  gateway: GatewayThread;
  pipeline: LocalPipeline;
  persistent: boolean;
  /** Adds local-only HTTP routes (e.g. the demo backend) on the HTTP API's port. */
  mountHttp(extension: HttpExtension): void;
  stop(): Promise<void>;
}

export const DEFAULT_PORTS = { http: 3000, ws: 3001, sns: 4566, dynamodb: 8000 } as const;
export const DEFAULT_TABLE_NAME = 'switchboard-local';

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

export async function startRuntime(opts: RuntimeOptions = {}): Promise<LocalRuntime> {
  // Node 20 here, 22 on Lambda: the SDK's reminder about that is noise locally.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const region = opts.region ?? 'us-east-1';
  const tableName = opts.tableName ?? DEFAULT_TABLE_NAME;
  const jwtSecret = opts.jwtSecret ?? LOCAL_DEV_SECRET;
  const log = opts.log ?? (() => undefined);
  const faults = opts.faults ?? NO_FAULTS;
  const ports = {
    http: opts.httpPort ?? DEFAULT_PORTS.http,
    ws: opts.wsPort ?? DEFAULT_PORTS.ws,
    sns: opts.snsPort ?? DEFAULT_PORTS.sns,
    dynamodb: opts.dynamodbPort ?? DEFAULT_PORTS.dynamodb,
  };
  // Every fixed port first, so a taken one fails in a second instead of after Java started.
  await checkPortsFree([
    { port: ports.http, envName: 'HTTP_PORT' },
    { port: ports.ws, envName: 'WS_PORT' },
    { port: ports.sns, envName: 'SNS_PORT' },
    ...(opts.dynamodbEndpoint ? [] : [{ port: ports.dynamodb, envName: 'DYNAMODB_PORT' }]),
  ]);

  // Handlers wait at this gate until their environment is complete (endpoints are known only once
  // every part is listening); nothing can reach them before that anyway except an early client.
  const { gated, open: openGate } = handlerGate();

  const started: { stop(): Promise<void> }[] = [];
  const results = await Promise.allSettled([
    opts.dynamodbEndpoint
      ? Promise.resolve<DynamoDbLocal | undefined>(undefined)
      : startDynamoDbLocal({ port: ports.dynamodb === 0 ? undefined : ports.dynamodb, persistDir: opts.persistDir }),
    startPipeline({
      port: ports.sns,
      region,
      handlers: { fanout: gated(fanoutHandler), sequencer: gated(sequencerHandler), deliver: gated(deliverHandler) },
      faults,
      takeFanoutFailure: opts.takeFanoutFailure,
      onEvent: opts.onEvent,
      log,
      onFatal: opts.onFatal,
    }),
    // In a worker thread with $connect, $disconnect and the message routes: the second core.
    startGatewayThread({
      port: ports.ws,
      idleTimeoutMs: opts.idleTimeoutMs,
      maxAgeMs: opts.maxAgeMs,
      onEvent: opts.onEvent,
      log,
      faults,
      onFatal: opts.onFatal,
    }),
    startHttpApi({ port: ports.http, handler: gated(httpHandler), publicDir: opts.publicDir, log }),
  ] as const);
  for (const r of results) if (r.status === 'fulfilled' && r.value) started.push(r.value);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  const stopAll = async () => {
    // Gateway first: its $disconnect handlers still need DynamoDB.
    for (const part of [...started].reverse())
      await part
        .stop()
        .catch((err: unknown) => log('warn', `stopping failed: ${(err as Error)?.message ?? String(err)}`));
  };
  if (failure) {
    await stopAll();
    throw failure.reason;
  }
  const [ddbResult, bridgeResult, gatewayResult, httpResult] = results as unknown as [
    PromiseFulfilledResult<DynamoDbLocal | undefined>,
    PromiseFulfilledResult<LocalPipeline>,
    PromiseFulfilledResult<GatewayThread>,
    PromiseFulfilledResult<LocalHttpApi>,
  ];
  const ddb = ddbResult.value;
  const pipeline = bridgeResult.value;
  const gateway = gatewayResult.value;
  const httpApi = httpResult.value;
  const dynamodbEndpoint = opts.dynamodbEndpoint ?? (ddb as DynamoDbLocal).endpoint;

  try {
    // ddb_throttle: the handlers (only they) reach DynamoDB through the fault proxy. Stopped last
    // (first in `started`): the gateway's $disconnect handlers still use it while stopping.
    const proxy =
      faults.active.ddb_throttle !== undefined
        ? await startDdbFaultProxy({ target: dynamodbEndpoint, faults, log })
        : undefined;
    if (proxy) started.unshift(proxy);
    const handlerDynamodbEndpoint = proxy?.endpoint ?? dynamodbEndpoint;
    setHandlerEnvironment({
      region,
      dynamodbEndpoint: handlerDynamodbEndpoint,
      tableName,
      jwtSecret,
      managementEndpoint: gateway.managementEndpoint,
      pipeline,
    });
    // Fail now, with the variable's name, rather than on the first connection.
    loadConfig(process.env);
    const dynamo = new DynamoDBClient({
      endpoint: dynamodbEndpoint,
      region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      await createTable(dynamo, tableName);
    } finally {
      dynamo.destroy();
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  openGate();
  gateway.open();

  let stopping = false;
  ddb?.onUnexpectedExit((code, lastOutput) => {
    if (stopping) return;
    opts.onFatal?.(
      `DynamoDB Local exited unexpectedly (exit code ${code ?? 'none'})${lastOutput ? `: ${lastOutput}` : ''}`,
    );
  });

  const endpoints: LocalEndpoints = {
    websocketUrl: gateway.url,
    httpUrl: httpApi.url,
    snsEndpoint: pipeline.endpoint,
    topicArn: pipeline.topicArn,
    region,
    dynamodbEndpoint,
    tableName,
    jwtSecret,
    demoUrl: `${httpApi.url}/`,
  };
  return {
    endpoints,
    gateway,
    pipeline,
    persistent: Boolean(opts.persistDir),
    mountHttp: (extension) => httpApi.mount(extension),
    async stop() {
      if (stopping) return;
      stopping = true;
      await stopAll();
    },
  };
}

/** The environment the handlers read, as the CDK stack sets it on the Lambda functions. */
function setHandlerEnvironment(e: {
  region: string;
  dynamodbEndpoint: string;
  tableName: string;
  jwtSecret: string;
  managementEndpoint: string;
  pipeline: LocalPipeline;
}): void {
  const env = process.env;
  env.AWS_REGION = e.region;
  env.AWS_ACCESS_KEY_ID ??= 'local';
  env.AWS_SECRET_ACCESS_KEY ??= 'local';
  env.AWS_ENDPOINT_URL_DYNAMODB = e.dynamodbEndpoint;
  env.SWITCHBOARD_TABLE_NAME = e.tableName;
  env.SWITCHBOARD_JWT_SECRET = e.jwtSecret;
  env.SWITCHBOARD_WS_MANAGEMENT_ENDPOINT = e.managementEndpoint;
  env.AWS_ENDPOINT_URL_SQS = e.pipeline.endpoint;
  env[PIPELINE_ENV.ingestQueueUrl] = e.pipeline.queues.ingest.url;
  env[PIPELINE_ENV.orderQueueUrl] = e.pipeline.queues.order.url;
  env[PIPELINE_ENV.deliveryQueueUrl] = e.pipeline.queues.delivery.url;
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  env.POWERTOOLS_METRICS_DISABLED = 'true';
  env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
}
