import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { handler as deliverHandler } from '../functions/deliver';
import { handler as fanoutHandler } from '../functions/fanout';
import { handler as sequencerHandler } from '../functions/sequencer';
import { handler as httpHandler } from '../functions/http';
import { LOCAL_DEV_SECRET, loadConfig } from '../shared/config';
import { createTable } from '../shared/store/create-table';
import { startDdbFaultProxy } from './ddb-fault-proxy';
import { startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';
import { NO_FAULTS } from './faults';
import { startHttpApi, type HttpExtension, type LocalHttpApi } from './http-api';
import { checkPortsFree } from './ports';
import { dynamodbPortOption, fixedPorts, portsOf, type RuntimeOptions } from './runtime-options';
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

export type RuntimeEvent = GatewayEvent | PipelineEvent;
export { DEFAULT_PORTS, runtimeOptionsFromEnv, type RuntimeOptions } from './runtime-options';

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

export const DEFAULT_TABLE_NAME = 'switchboard-local';

export async function startRuntime(opts: RuntimeOptions = {}): Promise<LocalRuntime> {
  // Node 20 here, 22 on Lambda: the SDK's reminder about that is noise locally.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const region = opts.region ?? 'us-east-1';
  const tableName = opts.tableName ?? DEFAULT_TABLE_NAME;
  const jwtSecret = opts.jwtSecret ?? LOCAL_DEV_SECRET;
  const log = opts.log ?? (() => undefined);
  const faults = opts.faults ?? NO_FAULTS;
  const ports = portsOf(opts);
  // Every fixed port first, so a taken one fails in a second instead of after Java started.
  if (!opts.dynamodb) await checkPortsFree(fixedPorts(opts));

  // Handlers wait at this gate until their environment is complete (endpoints are known only once
  // every part is listening); nothing can reach them before that anyway except an early client.
  const { gated, open: openGate } = handlerGate();

  const started: { stop(): Promise<void> }[] = [];
  const results = await Promise.allSettled([
    // The table is created as soon as DynamoDB answers, while the other parts still start.
    (opts.dynamodbEndpoint
      ? Promise.resolve<DynamoDbLocal | undefined>(undefined)
      : (opts.dynamodb ?? startDynamoDbLocal({ port: dynamodbPortOption(ports), persistDir: opts.persistDir }))
    ).then(async (ddb) => {
      try {
        await ensureTable(opts.dynamodbEndpoint ?? (ddb as DynamoDbLocal).endpoint, region, tableName);
      } catch (err) {
        await ddb?.stop();
        throw err;
      }
      return ddb;
    }),
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

async function ensureTable(endpoint: string, region: string, tableName: string): Promise<void> {
  const dynamo = new DynamoDBClient({
    endpoint,
    region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    await createTable(dynamo, tableName);
  } finally {
    dynamo.destroy();
  }
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
