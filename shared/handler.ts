import type * as z from 'zod/mini';
import {
  webSocketEventSchema,
  webSocketKeys,
  type InvocationContext,
  type LambdaResult,
  type WebSocketEvent,
} from './lambda-events';
import type { FunctionName } from './routes';
import { withLog, type Runtime } from './runtime';
import { errorDetails } from './telemetry';

/**
 * The one path of every Lambda handler in functions/ (as Powertools' event handler and logger shape
 * one): the container's runtime, the event parsed by its schema, a log for the invocation whose every
 * line carries the request id, the function and the handler's keys (connection id, route), the work,
 * unexpected errors logged and mapped to the contract's answer here, and the metrics flushed at the
 * end, whatever happened.
 */
export interface HandlerSpec<E, R> {
  name: FunctionName;
  schema: z.ZodMiniType<E>;
  /** What the event is, for the log line of one its schema refuses ("an SQS event"). */
  expects: string;
  /** The ids put on every log line of the invocation. */
  keys(event: E): Record<string, unknown>;
  /** The answer to an event its schema refuses. */
  invalid(rt: Runtime): R;
  handle(rt: Runtime, event: E, context: InvocationContext | undefined): Promise<R>;
  /** The contract's answer to an unexpected error (logged before this is called). */
  failed(rt: Runtime, event: E): R | Promise<R>;
}

export type LambdaHandler<R> = (event: unknown, context?: InvocationContext) => Promise<R>;

export function lambdaHandler<E, R>(runtime: () => Promise<Runtime>, spec: HandlerSpec<E, R>): LambdaHandler<R> {
  return async (event, context) => {
    const base = await runtime();
    const parsed = spec.schema.safeParse(event);
    const rt = withLog(
      base,
      base.log.forInvocation({ function: spec.name, ...(parsed.success && spec.keys(parsed.data)) }, context),
    );
    try {
      if (!parsed.success) {
        rt.log.error(`${spec.name} received an event that is not ${spec.expects}`, {
          issues: parsed.error.issues.map((i) => i.path.join('.')).slice(0, 5),
        });
        rt.metrics.count('InvalidEvent');
        return spec.invalid(rt);
      }
      try {
        return await spec.handle(rt, parsed.data, context);
      } catch (err) {
        rt.log.error(`${spec.name} failed`, errorDetails(err));
        rt.metrics.count('HandlerError');
        return await spec.failed(rt, parsed.data);
      }
    } finally {
      rt.metrics.flush();
    }
  };
}

/** A WebSocket route's handler (`$connect`, `$disconnect`, the message routes): an event its schema refuses gets 400. */
export function webSocketHandler(
  runtime: () => Promise<Runtime>,
  name: FunctionName,
  spec: Pick<HandlerSpec<WebSocketEvent, LambdaResult>, 'handle' | 'failed'>,
): LambdaHandler<LambdaResult> {
  return lambdaHandler<WebSocketEvent, LambdaResult>(runtime, {
    name,
    schema: webSocketEventSchema,
    expects: 'an API Gateway WebSocket event',
    keys: webSocketKeys,
    invalid: () => ({ statusCode: 400, body: 'Bad Request' }),
    ...spec,
  });
}
