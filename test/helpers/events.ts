import { randomUUID } from 'node:crypto';

/** Real API Gateway / SNS event shapes, as Lambda receives them. */
export function wsEvent(routeKey: string, connectionId: string, opts: { body?: string; query?: Record<string, string>; eventType?: 'CONNECT' | 'MESSAGE' | 'DISCONNECT' } = {}) {
  const eventType = opts.eventType ?? (routeKey === '$connect' ? 'CONNECT' : routeKey === '$disconnect' ? 'DISCONNECT' : 'MESSAGE');
  return {
    requestContext: {
      routeKey,
      eventType,
      messageId: eventType === 'MESSAGE' ? randomUUID() : undefined,
      extendedRequestId: randomUUID(),
      requestTime: new Date().toUTCString(),
      messageDirection: 'IN',
      stage: 'prod',
      connectedAt: Date.now(),
      requestTimeEpoch: Date.now(),
      identity: { sourceIp: '127.0.0.1', userAgent: 'jest' },
      requestId: randomUUID(),
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      connectionId,
      apiId: 'abc123',
    },
    ...(opts.query && { queryStringParameters: opts.query, multiValueQueryStringParameters: Object.fromEntries(Object.entries(opts.query).map(([k, v]) => [k, [v]])) }),
    ...(opts.body !== undefined && { body: opts.body }),
    isBase64Encoded: false,
  };
}

export function httpEvent(method: string, path: string, opts: { query?: Record<string, string>; headers?: Record<string, string> } = {}) {
  const rawQueryString = new URLSearchParams(opts.query ?? {}).toString();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString,
    headers: { host: 'api.example.com', ...(opts.headers ?? {}) },
    ...(opts.query && { queryStringParameters: opts.query }),
    requestContext: {
      accountId: '000000000000',
      apiId: 'http123',
      domainName: 'http123.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'http123',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'jest' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    isBase64Encoded: false,
  };
}
