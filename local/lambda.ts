import type { Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { FUNCTIONS, WEBSOCKET_ROUTES, type FunctionName, type RouteKey } from '../shared/routes';

/**
 * Running Lambda handlers in this process, as the Lambda runtime would: one `(event, context)` call
 * per invocation, with a context object of the real shape.
 */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown> | unknown;

export type FunctionHandlers = Record<FunctionName, LambdaHandler>;
export type WebSocketRouteHandlers = Record<RouteKey, LambdaHandler>;

const FUNCTIONS_DIR = path.join(__dirname, '..', 'functions');

/** `require('../functions/<name>').handler`, checked to be a function. */
export function loadFunction(name: FunctionName): LambdaHandler {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(path.join(FUNCTIONS_DIR, name)) as { handler?: unknown };
  if (typeof mod.handler !== 'function') throw new Error(`functions/${name}.ts does not export a handler function`);
  return mod.handler as LambdaHandler;
}

export function loadFunctions(): FunctionHandlers {
  return Object.fromEntries(FUNCTIONS.map((name) => [name, loadFunction(name)])) as FunctionHandlers;
}

/** Route key → handler, exactly as WEBSOCKET_ROUTES says (the table the CDK stack deploys). */
export function webSocketRoutesFrom(functions: Pick<FunctionHandlers, (typeof WEBSOCKET_ROUTES)[RouteKey]>): WebSocketRouteHandlers {
  return Object.fromEntries(Object.entries(WEBSOCKET_ROUTES).map(([routeKey, fn]) => [routeKey, functions[fn]])) as WebSocketRouteHandlers;
}

export function lambdaContext(functionName: string, timeoutMs = 30_000): Context {
  const started = Date.now();
  const region = process.env.AWS_REGION ?? 'us-east-1';
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: `switchboard-local-${functionName}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:switchboard-local-${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/switchboard-local-${functionName}`,
    logStreamName: `local/[$LATEST]${randomUUID().replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Invokes a handler; resolves with its result or rejects with what it threw. */
export async function invoke(functionName: string, handler: LambdaHandler, event: unknown): Promise<unknown> {
  return handler(event, lambdaContext(functionName));
}
