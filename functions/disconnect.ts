import { closeConnection } from '../shared/connections-lifecycle';
import { webSocketEventSchema, type LambdaResult } from '../shared/lambda-events';
import { defaultRuntime, type Runtime } from '../shared/runtime';

/** `$disconnect`: removes the connection and all its subscriptions. */
export function createDisconnectHandler(runtime: () => Promise<Runtime>) {
  return async (event: unknown): Promise<LambdaResult> => {
    const rt = await runtime();
    const { connectionId, disconnectStatusCode } = webSocketEventSchema.parse(event).requestContext;
    const removed = await closeConnection(rt, connectionId);
    rt.log.debug('disconnected', { connectionId, disconnectStatusCode, ...removed });
    return { statusCode: 200 };
  };
}

export const handler = createDisconnectHandler(defaultRuntime);
