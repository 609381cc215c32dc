import { closeConnection } from '../shared/connections-lifecycle';
import { webSocketHandler } from '../shared/handler';
import { posterFor } from '../shared/lean-poster';
import { managementEndpointFor } from '../shared/management-api';
import { defaultRuntime, type Runtime } from '../shared/runtime';

/**
 * `$disconnect`: removes the connection and all its subscriptions; its user leaves where it was their
 * last connection. API Gateway ignores the answer; a failure is logged, and the records it leaves
 * expire with their TTL.
 */
export function createDisconnectHandler(runtime: () => Promise<Runtime>) {
  return webSocketHandler(runtime, 'disconnect', {
    async handle(rt, event) {
      const { connectionId, disconnectStatusCode, domainName, stage } = event.requestContext;
      const removed = await closeConnection(rt, connectionId, () =>
        posterFor(rt, managementEndpointFor(rt.config.managementEndpoint, domainName, stage)),
      );
      rt.log.debug('disconnected', { disconnectStatusCode, ...removed });
      return { statusCode: 200 };
    },
    failed: () => ({ statusCode: 500 }),
  });
}

export const handler = createDisconnectHandler(defaultRuntime);
