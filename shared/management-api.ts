import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import http from 'node:http';
import { withClientMiddleware } from './client-middleware';
import https from 'node:https';

/**
 * Posting frames to WebSocket connections through API Gateway's management API (`@connections`).
 * The local gateway serves the same API, so the real SDK client is used everywhere.
 */
export interface Poster {
  post(connectionId: string, data: string): Promise<void>;
}

export type PostFailureKind = 'gone' | 'throttled' | 'server' | 'client' | 'network';

/** Classifies an SDK error from a post: what the delivery loop should do with it. */
export function classifyPostError(err: unknown): PostFailureKind {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  const status = e?.$metadata?.httpStatusCode;
  if (e?.name === 'GoneException' || status === 410) return 'gone';
  if (
    e?.name === 'LimitExceededException' ||
    e?.name === 'TooManyRequestsException' ||
    e?.name === 'ThrottlingException' ||
    status === 429
  )
    return 'throttled';
  if (status !== undefined && status >= 500) return 'server';
  if (status !== undefined && status >= 400) return 'client';
  if (
    e?.name === 'TimeoutError' ||
    e?.name === 'RequestTimeout' ||
    /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|UND_ERR_SOCKET)$/.test(e?.code ?? '')
  )
    return 'network';
  return 'client';
}

export class ManagementApiPoster implements Poster {
  constructor(private readonly client: ApiGatewayManagementApiClient) {}

  async post(connectionId: string, data: string): Promise<void> {
    await this.client.send(
      new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(data, 'utf8') }),
    );
  }
}

const clients = new Map<string, ApiGatewayManagementApiClient>();

/**
 * One client per endpoint per container, over keep-alive sockets. SDK retries are off: the
 * delivery loop retries throttles and 5xx itself, so it can count and bound them.
 */
export function managementClient(
  endpoint: string,
  maxSockets = 64,
  requestTimeoutMs = 1000,
): ApiGatewayManagementApiClient {
  const key = `${endpoint} ${maxSockets} ${requestTimeoutMs}`;
  let client = clients.get(key);
  if (!client) {
    client = withClientMiddleware(
      new ApiGatewayManagementApiClient({
        endpoint,
        maxAttempts: 1,
        requestHandler: {
          httpAgent: new http.Agent({ keepAlive: true, maxSockets }),
          httpsAgent: new https.Agent({ keepAlive: true, maxSockets }),
          requestTimeout: requestTimeoutMs,
          // Without this, the installed @smithy/node-http-handler only warns at the timeout and keeps waiting.
          throwOnRequestTimeout: true,
        },
      }),
    );
    clients.set(key, client);
  }
  return client;
}

/** The management endpoint for a WebSocket event: the configured one, else from the request. */
export function managementEndpointFor(
  configured: string | undefined,
  domainName: string | undefined,
  stage: string | undefined,
): string {
  if (configured) return configured;
  if (!domainName || !stage)
    throw new Error('cannot derive the management API endpoint: set SWITCHBOARD_WS_MANAGEMENT_ENDPOINT');
  return `https://${domainName}/${stage}`;
}
