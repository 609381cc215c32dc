import type http from 'node:http';
import type { FaultName, Faults } from './faults';
import { readBody } from './http-util';

/**
 * API Gateway's connection management API (`@connections`), served by the local gateway so the
 * handlers use the real `@aws-sdk/client-apigatewaymanagementapi`:
 * - `POST /@connections/{id}`: the body goes to the client as one text message (over 32 KB it is
 *   sent as 32 KB fragments, as API Gateway does); 128 KB at most (413 PayloadTooLargeException).
 *   Like AWS, the post is answered 200 as soon as the frame is queued for the socket, not when the
 *   client has read it; when the connection's outbound buffer is over OUTBOUND_LIMIT_BYTES it is
 *   refused with 429 `LimitExceededException` (the SDK raises LimitExceededException), as AWS does
 *   when a client's buffer is full;
 * - `GET /@connections/{id}`: `connectedAt`, `lastActiveAt`, `identity.sourceIp/userAgent`;
 * - `DELETE /@connections/{id}`: closes the connection (204).
 * An id that is not connected (unknown, closing, or whose `$connect` has not returned yet) answers
 * 410 with `x-amzn-errortype: GoneException`, exactly as AWS does, so the SDK raises `GoneException`.
 * The path may carry a stage prefix (`/local/@connections/...`).
 *
 * Injected faults (local/faults.ts, rolled for every POST before the connection is looked up, as
 * AWS's throttling and errors come before it): `post_429` answers 429 LimitExceededException,
 * `post_5xx` 500 InternalServerErrorException, `post_timeout` never answers (the caller's own
 * timeout ends the request; the gateway's stop() closes it). None of them sends the frame.
 */
export const MAX_POST_BYTES = 128 * 1024;

/**
 * A post is refused with 429 while the connection's outbound buffer holds more than this many bytes:
 * what `ws` has queued for the socket and not yet handed to the kernel (`bufferedAmount`: the
 * socket's write buffer plus ws's own send queue). 256 KB is two posts of the maximum size (128 KB),
 * or 16 events of 16 KB: a client that is merely a little behind is never refused, while one that
 * stopped reading is refused within a few posts once the operating system's socket buffers (on
 * loopback up to a few MB, which AWS's own buffer also has in front of it) are full. AWS does not
 * publish its per-connection buffer size; what matters is that a stalled reader gets 429 quickly
 * and the memory it can pin stays bounded.
 */
export const OUTBOUND_LIMIT_BYTES = 256 * 1024;

/** What became of a post: queued for the socket, refused (buffer over the limit), or gone. */
export type PostOutcome = 'queued' | 'full' | 'gone';

export interface ManagedConnection {
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  userAgent: string | undefined;
  /** Queues one text message for the socket without waiting for it to be written. */
  post(data: Buffer): PostOutcome;
  /** Closes the connection from the server side (DeleteConnection). */
  close(): void;
}

export interface ConnectionLookup {
  /** An open connection (undefined when unknown, not yet connected, or closing). */
  get(connectionId: string): ManagedConnection | undefined;
}

export interface ManagementOptions {
  faults?: Faults;
  /** An injected fault hit a POST; for `post_timeout`, `res` stays unanswered (the gateway ends it on stop()). */
  onFault?: (fault: FaultName, connectionId: string, res: http.ServerResponse) => void;
}

const PATH = /^(?:\/[^/@][^/]*)?\/@connections\/([^/?]+)\/?(?:\?.*)?$/;

/** True when the request is for the management API (and has been answered). */
export function handleManagementRequest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  connections: ConnectionLookup,
  opts: ManagementOptions = {},
): boolean {
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
      .then((body) => {
        if (body === undefined)
          return error(res, 413, 'PayloadTooLargeException', `Message is larger than the ${MAX_POST_BYTES} byte limit`);
        const fault = rollPostFault(opts.faults);
        if (fault) opts.onFault?.(fault, connectionId, res);
        if (fault === 'post_429') return limitExceeded(res);
        if (fault === 'post_5xx') return error(res, 500, 'InternalServerErrorException', 'Internal server error');
        if (fault === 'post_timeout') return; // never answered
        const conn = connections.get(connectionId);
        if (!conn) return gone(res);
        const outcome = conn.post(body);
        if (outcome === 'gone') return gone(res);
        if (outcome === 'full') return limitExceeded(res);
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

function rollPostFault(faults: Faults | undefined): FaultName | undefined {
  if (!faults) return undefined;
  for (const name of ['post_429', 'post_5xx', 'post_timeout'] as const) if (faults.roll(name)) return name;
  return undefined;
}

function gone(res: http.ServerResponse): void {
  error(res, 410, 'GoneException', 'GoneException');
}

function limitExceeded(res: http.ServerResponse): void {
  error(res, 429, 'LimitExceededException', 'LimitExceededException');
}

function error(res: http.ServerResponse, status: number, type: string, message: string): void {
  if (res.headersSent) return;
  const body = JSON.stringify({ message });
  res
    .writeHead(status, {
      'content-type': 'application/json',
      'x-amzn-errortype': type,
      'content-length': Buffer.byteLength(body),
    })
    .end(body);
}
