import type http from 'node:http';

/**
 * API Gateway's connection management API (`@connections`), served by the local gateway so the
 * handlers use the real `@aws-sdk/client-apigatewaymanagementapi`:
 * - `POST /@connections/{id}`: the body goes to the client as one text message (over 32 KB it is
 *   sent as 32 KB fragments, as API Gateway does); 128 KB at most (413 PayloadTooLargeException);
 * - `GET /@connections/{id}`: `connectedAt`, `lastActiveAt`, `identity.sourceIp/userAgent`;
 * - `DELETE /@connections/{id}`: closes the connection (204).
 * An id that is not connected answers 410 with `x-amzn-errortype: GoneException`, exactly as AWS does,
 * so the SDK raises `GoneException`. The path may carry a stage prefix (`/local/@connections/...`).
 */
export const MAX_POST_BYTES = 128 * 1024;

export interface ManagedConnection {
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  userAgent: string | undefined;
  /** Sends one text message; rejects when the connection is no longer open. */
  send(data: Buffer): Promise<void>;
  /** Closes the connection from the server side (DeleteConnection). */
  close(): void;
}

export interface ConnectionLookup {
  get(connectionId: string): ManagedConnection | undefined;
}

const PATH = /^(?:\/[^/@][^/]*)?\/@connections\/([^/?]+)\/?(?:\?.*)?$/;

/** True when the request is for the management API (and has been answered). */
export function handleManagementRequest(req: http.IncomingMessage, res: http.ServerResponse, connections: ConnectionLookup): boolean {
  const m = (req.url ?? '').match(PATH);
  if (!m) return false;
  let connectionId: string;
  try {
    connectionId = decodeURIComponent(m[1] as string);
  } catch {
    error(res, 400, 'BadRequestException', 'Invalid connectionId');
    return true;
  }
  const method = req.method ?? 'GET';
  if (method === 'POST') {
    readBody(req, MAX_POST_BYTES)
      .then(async (body) => {
        if (body === undefined) return error(res, 413, 'PayloadTooLargeException', `Message is larger than the ${MAX_POST_BYTES} byte limit`);
        const conn = connections.get(connectionId);
        if (!conn) return gone(res);
        try {
          await conn.send(body);
        } catch {
          return gone(res);
        }
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '0' }).end();
      })
      .catch(() => error(res, 500, 'InternalServerErrorException', 'Internal server error'));
    return true;
  }
  // Drain whatever body a GET/DELETE carries before answering.
  req.resume();
  const conn = connections.get(connectionId);
  if ((method === 'GET' || method === 'DELETE') && !conn) {
    gone(res);
    return true;
  }
  if (method === 'GET' && conn) {
    const body = JSON.stringify({
      connectedAt: new Date(conn.connectedAt).toISOString(),
      identity: { sourceIp: conn.sourceIp, ...(conn.userAgent !== undefined && { userAgent: conn.userAgent }) },
      lastActiveAt: new Date(conn.lastActiveAt).toISOString(),
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    return true;
  }
  if (method === 'DELETE' && conn) {
    conn.close();
    res.writeHead(204).end();
    return true;
  }
  error(res, 403, 'ForbiddenException', 'Forbidden');
  return true;
}

function gone(res: http.ServerResponse): void {
  error(res, 410, 'GoneException', 'GoneException');
}

function error(res: http.ServerResponse, status: number, type: string, message: string): void {
  if (res.headersSent) return;
  const body = JSON.stringify({ message });
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type, 'content-length': Buffer.byteLength(body) }).end(body);
}

/** The request body, or undefined when it exceeds `limit` bytes. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
