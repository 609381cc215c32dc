import { openConnection } from '../shared/open-connection';
import { webSocketHandler } from '../shared/handler';
import { posterFor } from '../shared/lean-poster';
import { managementEndpointFor } from '../shared/management-api';
import { defaultRuntime, type Runtime } from '../shared/runtime';

/** `$connect`: 200 accepts the handshake; 401 / 400 / 403 reject it (protocol §1, §3); presence joins for `?channels=` (§8). */
export function createConnectHandler(runtime: () => Promise<Runtime>) {
  return webSocketHandler(runtime, 'connect', {
    async handle(rt, event) {
      const { connectionId, domainName, stage } = event.requestContext;
      const poster = () => posterFor(rt, managementEndpointFor(rt.config.managementEndpoint, domainName, stage));
      const outcome = await openConnection(rt, connectionId, event.queryStringParameters ?? {}, poster);
      if (outcome.status !== 200)
        rt.log.info('connection refused', { status: outcome.status, reason: outcome.message });
      return { statusCode: outcome.status, body: outcome.message };
    },
    failed: () => ({ statusCode: 500, body: 'Internal Server Error' }),
  });
}

export const handler = createConnectHandler(defaultRuntime);
