import {
  connectEvent,
  disconnectEvent,
  httpV2Event,
  matchHttpRoute,
  messageEvent,
  type WebSocketLambdaEvent,
} from '../../local/api-gateway-events';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/**
 * API Gateway events as Lambda receives them, for handler tests: built by the same builders as the
 * local emulator's (local/api-gateway-events.ts), on a made-up API.
 */
const WS_API = { domainName: 'abc123.execute-api.us-east-1.amazonaws.com', stage: 'prod', apiId: 'abc123' };
const HTTP_API = { domainName: 'http123.execute-api.us-east-1.amazonaws.com', apiId: 'http123' };

export function wsEvent(
  routeKey: string,
  connectionId: string,
  opts: { body?: string; query?: Record<string, string> } = {},
): WebSocketLambdaEvent {
  const conn = { connectionId, connectedAt: Date.now(), sourceIp: '127.0.0.1', userAgent: 'jest' };
  if (routeKey === '$connect')
    return connectEvent(WS_API, conn, {
      rawHeaders: ['Host', WS_API.domainName],
      search: new URLSearchParams(opts.query),
      port: 443,
    });
  if (routeKey === '$disconnect') return disconnectEvent(WS_API, conn, 1000, 'Client closed');
  return messageEvent(WS_API, conn, routeKey, Buffer.from(opts.body ?? ''), false);
}

/** An HTTP API request, with the route API Gateway would match for it. */
export function httpEvent(
  method: string,
  path: string,
  opts: { query?: Record<string, string>; headers?: Record<string, string> } = {},
): APIGatewayProxyEventV2 {
  const query = new URLSearchParams(opts.query ?? {}).toString();
  const req = {
    method,
    rawUrl: query ? `${path}?${query}` : path,
    headers: { host: HTTP_API.domainName, 'user-agent': 'jest', ...opts.headers },
    sourceIp: '127.0.0.1',
    protocol: 'HTTP/1.1',
    body: Buffer.alloc(0),
  };
  return httpV2Event(HTTP_API, req, matchHttpRoute(method, path) ?? { routeKey: '$default' });
}
