import { openConnection } from '../shared/connections-lifecycle';
import { webSocketEventSchema, type LambdaResult } from '../shared/lambda-events';
import { managementEndpointFor } from '../shared/management-api';
import { defaultRuntime, type Runtime } from '../shared/runtime';
import { errorDetails } from '../shared/telemetry';

/** `$connect`: 200 accepts the handshake; 401 / 400 / 403 reject it (protocol §1, §3); presence joins for `?channels=` (§8). */
export function createConnectHandler(runtime: () => Promise<Runtime>) {
  return async (event: unknown): Promise<LambdaResult> => {
    const rt = await runtime();
    const parsed = webSocketEventSchema.safeParse(event);
    if (!parsed.success) {
      rt.log.error('invalid $connect event', { issues: parsed.error.issues.length });
      return { statusCode: 400, body: 'Bad Request' };
    }
    const { connectionId, domainName, stage } = parsed.data.requestContext;
    try {
      const poster = () => rt.poster(managementEndpointFor(rt.config.managementEndpoint, domainName, stage));
      const outcome = await openConnection(rt, connectionId, parsed.data.queryStringParameters ?? {}, poster);
      if (outcome.status !== 200) rt.log.info('connection refused', { connectionId, status: outcome.status, reason: outcome.message });
      return { statusCode: outcome.status, body: outcome.message };
    } catch (err) {
      rt.log.error('connect failed', { connectionId, ...errorDetails(err) });
      return { statusCode: 500, body: 'Internal Server Error' };
    }
  };
}

export const handler = createConnectHandler(defaultRuntime);
