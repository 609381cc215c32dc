import { closeConnection } from '../shared/connections-lifecycle';
import { webSocketEventSchema, type LambdaResult } from '../shared/lambda-events';
import { managementEndpointFor } from '../shared/management-api';
import { defaultRuntime, type Runtime } from '../shared/runtime';

/** `$disconnect`: removes the connection and all its subscriptions; its user leaves where it was their last connection. */
export function createDisconnectHandler(runtime: () => Promise<Runtime>) {
  return async (event: unknown): Promise<LambdaResult> => {
    const rt = await runtime();
    const { connectionId, disconnectStatusCode, domainName, stage } = webSocketEventSchema.parse(event).requestContext;
    const removed = await closeConnection(rt, connectionId, () => rt.poster(managementEndpointFor(rt.config.managementEndpoint, domainName, stage)));
    rt.log.debug('disconnected', { connectionId, disconnectStatusCode, ...removed });
    return { statusCode: 200 };
  };
}

export const handler = createDisconnectHandler(defaultRuntime);
