import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { routeKeyFor, WEBSOCKET_ROUTES, type FunctionName, type RouteKey } from '../shared/routes';
import {
  connectEvent,
  disconnectEvent,
  messageEvent,
  newConnectionId,
  normalizeIp,
  type WsApi,
  type WsConnectionContext,
} from './api-gateway-events';
import type { FaultName, Faults } from './faults';
import { invoke, type LambdaContext } from './lambda-invoker';
import {
  handleManagementRequest,
  OUTBOUND_LIMIT_BYTES,
  type ManagedConnection,
  type PostOutcome,
} from './management-api';
import type { LocalLog } from './log';
import { listen } from './ports';

/**
 * The local API Gateway WebSocket API. Faithful where handlers or clients can tell:
 * - `$connect` runs before the handshake completes; a non-2xx result fails the handshake with that
 *   HTTP status (a Lambda error gives 500);
 * - route selection on `$request.body.action` through the shared route table (`routeKeyFor`), so a
 *   frame that is not JSON or names no route reaches `$default`;
 * - one connection's messages are handled one at a time in arrival order;
 * - a client frame over 32 KB closes the connection with 1009; idle connections close after 10
 *   minutes and every connection after 2 hours (1001 Going away), both configurable;
 * - `$disconnect` runs after every close, with the close code and a reason;
 * - the `@connections` management API is served on the same port (management-api.ts): a post is
 *   accepted once queued for the socket, 429 when the connection's outbound buffer is full, 410
 *   before `$connect` has returned and the handshake completed, and after the close began;
 * - every handler runs through local/lambda-invoker.ts `invoke`, so its function timeout
 *   (shared/pipeline.ts FUNCTION_SETTINGS) is enforced: a `$connect` that times out fails the
 *   handshake with 500, a message route that times out gets the error frame below.
 * A Lambda error on a message route sends the client API Gateway's own error frame.
 *
 * Faults (local/faults.ts): `post_429`, `post_5xx`, `post_timeout` in the management API;
 * `post_gone_at_connect` holds an accepted `$connect` 50 to 3000 ms longer (a cold start) before the handshake
 * completes, so posts meanwhile answer 410, the window AWS also has.
 */
export type LambdaHandler = (event: unknown, context?: LambdaContext) => Promise<unknown>;

export const CLIENT_FRAME_LIMIT = 32 * 1024;
export const DEFAULT_IDLE_TIMEOUT_MS = 10 * 60 * 1000;
export const DEFAULT_MAX_AGE_MS = 2 * 60 * 60 * 1000;

export interface GatewayOptions {
  port: number;
  host?: string;
  /** The handlers by function name (functions/<name>.ts `handler`). */
  handlers: Pick<Record<FunctionName, LambdaHandler>, 'connect' | 'disconnect' | 'message'>;
  /** Route key → function name; the shared route table unless a test hands in another. */
  routes?: Readonly<Record<string, FunctionName>>;
  idleTimeoutMs?: number;
  maxAgeMs?: number;
  stage?: string;
  onEvent?: (e: GatewayEvent) => void;
  log?: LocalLog;
  /** Injected faults (post_429, post_5xx, post_timeout, post_gone_at_connect); none by default. */
  faults?: Faults;
  /** Test hook: function timeouts in ms instead of FUNCTION_SETTINGS (e.g. `{ connect: 200 }`). */
  timeoutsMs?: Partial<Record<FunctionName, number>>;
}

export type GatewayEvent =
  | { type: 'connected'; connectionId: string; headers: Record<string, string> }
  | { type: 'rejected'; status: number; headers: Record<string, string> }
  | { type: 'disconnected'; connectionId: string; statusCode: number; reason: string }
  | { type: 'vanished'; connectionId: string }
  /** An injected fault hit a post to this connection, or held its handshake (post_gone_at_connect). */
  | { type: 'fault'; fault: FaultName; connectionId: string };

export interface WsGateway {
  port: number;
  url: string;
  /** What handlers post to (SWITCHBOARD_WS_MANAGEMENT_ENDPOINT). */
  managementEndpoint: string;
  routes: Readonly<Record<string, FunctionName>>;
  connectionCount(): number;
  /**
   * Test hook: forget a connection and drop its socket without running `$disconnect`, as when AWS
   * loses a disconnect. Its record stays in DynamoDB until a post answers 410.
   */
  vanish(connectionId: string): boolean;
  /** Resolves when every `$disconnect` started so far has finished. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

interface CloseInfo {
  code: number;
  reason: string;
}

class Connection implements ManagedConnection {
  readonly connectedAt = Date.now();
  lastActiveAt = this.connectedAt;
  state: 'open' | 'closed' | 'vanished' = 'open';
  /** Why the server closed it (idle, max age, DeleteConnection, shutdown). */
  serverClose: CloseInfo | undefined;
  timers: NodeJS.Timeout[] = [];
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly ctx: WsConnectionContext,
    readonly ws: WebSocket,
    readonly headers: Record<string, string>,
  ) {}

  get sourceIp(): string {
    return this.ctx.sourceIp;
  }
  get userAgent(): string | undefined {
    return this.ctx.userAgent;
  }

  /** Runs tasks one at a time in order: one connection's frames are handled in arrival order. */
  enqueue(task: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(task, task);
    return this.chain;
  }

  /** Open and not closing: posts are accepted (a server-side close makes ws CLOSING at once). */
  isOpen(): boolean {
    return this.state === 'open' && this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * Queues one text message for the socket and returns at once, as API Gateway accepts a post once
   * it is queued; `full` when more than `limit` bytes are already waiting to be written.
   */
  post(data: Buffer, limit = OUTBOUND_LIMIT_BYTES): PostOutcome {
    if (!this.isOpen()) return 'gone';
    // ws.bufferedAmount: the socket's write buffer plus what ws itself holds back (its send queue).
    if (this.ws.bufferedAmount > limit) return 'full';
    // API Gateway sends a post of up to 128 KB as 32 KB frames of one text message. The fragments
    // are written in one go, so no other message can come between them.
    const parts: Buffer[] = [];
    for (let i = 0; i < data.length || parts.length === 0; i += CLIENT_FRAME_LIMIT)
      parts.push(data.subarray(i, i + CLIENT_FRAME_LIMIT));
    // A write error closes the socket ('close' follows): posts after it answer 410.
    parts.forEach((part, i) =>
      this.ws.send(part, { binary: false, fin: i === parts.length - 1, compress: false }, () => undefined),
    );
    return 'queued';
  }

  close(info: CloseInfo = { code: 1000, reason: '' }): void {
    if (this.state !== 'open') return;
    this.serverClose = info;
    this.ws.close(info.code, info.reason);
    // A client that never answers the close frame is cut after a short grace period.
    const t = setTimeout(() => this.ws.terminate(), 5000);
    t.unref();
    this.timers.push(t);
  }

  clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }
}

export async function startWsGateway(opts: GatewayOptions): Promise<WsGateway> {
  const host = opts.host ?? '127.0.0.1';
  const routes: Readonly<Record<string, FunctionName>> = opts.routes ?? WEBSOCKET_ROUTES;
  const idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const maxAgeMs = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const log: LocalLog = opts.log ?? (() => undefined);
  const emit = opts.onEvent ?? (() => undefined);
  const faults = opts.faults;
  const connections = new Map<string, Connection>();
  const pending = new Set<Promise<void>>();
  /** Posts that `post_timeout` left unanswered; stop() ends them. */
  const hung = new Set<http.ServerResponse>();
  let stopping = false;

  const lookup = {
    get: (id: string) => {
      const conn = connections.get(id);
      return conn?.isOpen() ? conn : undefined;
    },
  };
  const onFault = (fault: FaultName, connectionId: string, res: http.ServerResponse) => {
    if (fault === 'post_timeout') {
      hung.add(res);
      res.once('close', () => hung.delete(res));
    }
    log('debug', `fault ${fault}: a post to ${connectionId}`);
    emit({ type: 'fault', fault, connectionId });
  };
  const server = http.createServer((req, res) => {
    if (handleManagementRequest(req, res, lookup, { faults, onFault })) return;
    req.resume();
    // A plain HTTP request to the WebSocket URL: API Gateway answers 426 for the upgrade it expects.
    const body = JSON.stringify({ message: 'Upgrade Required' });
    res.writeHead(426, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
  const selectedProtocol = new WeakMap<http.IncomingMessage, string>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: CLIENT_FRAME_LIMIT,
    perMessageDeflate: false,
    // A subprotocol is accepted only when $connect answers with a Sec-WebSocket-Protocol header.
    handleProtocols: (_protocols, req) => selectedProtocol.get(req) ?? false,
  });

  const port = await listen(server, opts.port, host, 'WS_PORT');
  const domainName = `${host}:${port}`;
  const api: WsApi = { domainName, stage: opts.stage ?? 'local', apiId: 'local' };

  /** Resolves when every handler call started so far (and any they queued) has finished. */
  const settled = async (): Promise<void> => {
    while (pending.size > 0) await Promise.allSettled([...pending]);
  };

  /** Runs the route's function as Lambda would: through `invoke`, with its timeout enforced. */
  const run = (routeKey: string, event: unknown): Promise<unknown> => {
    const fn = routes[routeKey] ?? routes.$default;
    const handler = fn && (opts.handlers as Record<string, LambdaHandler | undefined>)[fn];
    if (!fn || !handler) return Promise.reject(new Error(`no handler for route ${routeKey}`));
    return invoke(handler, event, { fn, timeoutMs: opts.timeoutsMs?.[fn] });
  };

  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    track(onUpgrade(req, socket, head));
  });

  async function onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const headers = flatHeaders(req.rawHeaders);
    if (stopping) return rejectHandshake(socket, 503, 'Service Unavailable');
    const url = new URL(req.url ?? '/', 'http://local');
    const ctx: WsConnectionContext = {
      connectionId: newConnectionId(),
      connectedAt: Date.now(),
      sourceIp: normalizeIp(req.socket.remoteAddress),
      userAgent: typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : undefined,
    };
    let result: unknown;
    try {
      result = await run(
        '$connect',
        connectEvent(api, ctx, { rawHeaders: req.rawHeaders, search: url.searchParams, port }, ctx.connectedAt),
      );
    } catch (err) {
      log('warn', `$connect handler failed: ${(err as Error)?.message ?? String(err)}`);
      result = { statusCode: 500, body: 'Internal server error' };
    }
    const { statusCode, body, resultHeaders } = lambdaResult(result);
    if (statusCode < 200 || statusCode > 299) {
      emit({ type: 'rejected', status: statusCode, headers });
      return rejectHandshake(socket, statusCode, body);
    }
    const protocol = resultHeaders['sec-websocket-protocol'];
    if (protocol) selectedProtocol.set(req, protocol);
    // post_gone_at_connect: the handshake completes a little later than $connect returned; the
    // connection is registered only then, so posts meanwhile answer 410 (as on AWS, only longer).
    if (faults?.roll('post_gone_at_connect')) {
      const holdMs = 50 + Math.floor(faults.random() * 2951);
      log('debug', `fault post_gone_at_connect: holding the handshake of ${ctx.connectionId} for ${holdMs} ms`);
      emit({ type: 'fault', fault: 'post_gone_at_connect', connectionId: ctx.connectionId });
      await delay(holdMs);
    }
    if (socket.destroyed || stopping) {
      // Accepted by $connect, but the client left (or we are stopping) before the handshake finished.
      await runDisconnect(ctx, { code: 1006, reason: 'Connection closed before the handshake completed' });
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onOpen(new Connection(ctx, ws, headers)));
  }

  function onOpen(conn: Connection): void {
    const { connectionId } = conn.ctx;
    connections.set(connectionId, conn);
    const touch = () => {
      conn.lastActiveAt = Date.now();
      idle.refresh();
    };
    const idle = setTimeout(() => conn.close({ code: 1001, reason: 'Going away' }), idleTimeoutMs);
    const age = setTimeout(() => conn.close({ code: 1001, reason: 'Going away' }), maxAgeMs);
    conn.timers.push(idle, age);
    conn.ws.on('message', (data: RawData, isBinary: boolean) => {
      touch();
      const buf = toBuffer(data);
      track(conn.enqueue(() => dispatch(conn, buf, isBinary)));
    });
    conn.ws.on('ping', touch);
    // ws closes the connection itself on protocol errors (1009 for an oversized frame); 'close' follows.
    conn.ws.on('error', (err: Error & { code?: string }) => {
      log('debug', `connection ${connectionId}: ${err.message}`);
      // The gateway closed it (ws sent the close frame); the client's reply is never read.
      conn.serverClose ??= protocolErrorClose(err.code);
    });
    conn.ws.on('close', (code: number, reason: Buffer) => onClose(conn, code, reason.toString('utf8')));
    log('debug', `connected ${connectionId}`);
    emit({ type: 'connected', connectionId, headers: conn.headers });
  }

  async function dispatch(conn: Connection, data: Buffer, isBinary: boolean): Promise<void> {
    const routeKey = isBinary ? '$default' : selectRoute(data);
    try {
      await run(routeKey, messageEvent(api, conn.ctx, routeKey, data, isBinary));
    } catch (err) {
      log('warn', `${routeKey} handler failed for ${conn.ctx.connectionId}: ${(err as Error)?.message ?? String(err)}`);
      // What API Gateway sends the client when the integration fails.
      const frame = JSON.stringify({
        message: 'Internal server error',
        connectionId: conn.ctx.connectionId,
        requestId: newConnectionId(),
      });
      conn.post(Buffer.from(frame));
    }
  }

  function onClose(conn: Connection, code: number, reason: string): void {
    conn.clearTimers();
    if (conn.state === 'vanished') return;
    conn.state = 'closed';
    connections.delete(conn.ctx.connectionId);
    const info = conn.serverClose ?? { code, reason: clientCloseReason(code, reason) };
    track(conn.enqueue(() => runDisconnect(conn.ctx, info)));
  }

  async function runDisconnect(ctx: WsConnectionContext, info: CloseInfo): Promise<void> {
    try {
      await run('$disconnect', disconnectEvent(api, ctx, info.code, info.reason));
    } catch (err) {
      log('warn', `$disconnect handler failed for ${ctx.connectionId}: ${(err as Error)?.message ?? String(err)}`);
    }
    log('debug', `disconnected ${ctx.connectionId} (${info.code} ${info.reason})`);
    emit({ type: 'disconnected', connectionId: ctx.connectionId, statusCode: info.code, reason: info.reason });
  }

  return {
    port,
    url: `ws://${domainName}`,
    managementEndpoint: `http://${domainName}`,
    routes,
    connectionCount: () => connections.size,
    vanish(connectionId) {
      const conn = connections.get(connectionId);
      if (!conn) return false;
      conn.state = 'vanished';
      conn.clearTimers();
      connections.delete(connectionId);
      conn.ws.terminate();
      emit({ type: 'vanished', connectionId });
      return true;
    },
    settled,
    async stop() {
      stopping = true;
      const open = [...connections.values()];
      const closed = Promise.all(open.map((c) => new Promise<void>((resolve) => c.ws.once('close', () => resolve()))));
      for (const conn of open) conn.close({ code: 1001, reason: 'Going away' });
      // Clients get a moment to answer the close frame; then the rest are cut.
      await Promise.race([closed, delay(2000)]);
      for (const conn of open) conn.ws.terminate();
      await Promise.race([closed, delay(1000)]);
      // Every close queued a $disconnect (DynamoDB must stay consistent, e.g. with --persist).
      await Promise.race([settled(), delay(5000)]);
      wss.close();
      // Posts that post_timeout left hanging end with their sockets.
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `$request.body.action`: a JSON object's `action` picks the route; anything else is `$default`. */
export function selectRoute(data: Buffer): RouteKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch {
    return '$default';
  }
  const action =
    typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>).action
      : undefined;
  return routeKeyFor(action);
}

function lambdaResult(result: unknown): {
  statusCode: number;
  body: string | undefined;
  resultHeaders: Record<string, string>;
} {
  // Lambda proxy results: { statusCode, headers?, body? }; any other value counts as 200.
  if (typeof result !== 'object' || result === null || !('statusCode' in result))
    return { statusCode: 200, body: undefined, resultHeaders: {} };
  const r = result as { statusCode: unknown; body?: unknown; headers?: unknown };
  const statusCode = typeof r.statusCode === 'number' ? r.statusCode : Number(r.statusCode) || 500;
  const resultHeaders: Record<string, string> = {};
  if (typeof r.headers === 'object' && r.headers !== null) {
    for (const [k, v] of Object.entries(r.headers as Record<string, unknown>))
      resultHeaders[k.toLowerCase()] = String(v);
  }
  return { statusCode, body: typeof r.body === 'string' ? r.body : undefined, resultHeaders };
}

function rejectHandshake(socket: Duplex, status: number, body: string | undefined): void {
  if (socket.destroyed) return;
  const text = body ?? http.STATUS_CODES[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      '\r\n' +
      text,
  );
}

const CLOSE_NAMES: Record<number, string> = {
  1000: 'NORMAL_CLOSURE',
  1001: 'GOING_AWAY',
  1002: 'PROTOCOL_ERROR',
  1003: 'UNSUPPORTED_DATA',
  1005: 'NO_STATUS_CODE',
  1006: 'ABNORMAL_CLOSURE',
  1007: 'INVALID_PAYLOAD_DATA',
  1008: 'POLICY_VIOLATION',
  1009: 'MESSAGE_TOO_BIG',
  1011: 'INTERNAL_ERROR',
};

/** The close ws sends for a client's protocol error (a frame over 32 KB: 1009). */
function protocolErrorClose(code: string | undefined): CloseInfo {
  if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
    return { code: 1009, reason: 'Frame size exceeds the maximum allowed (32 KB)' };
  if (code === 'WS_ERR_INVALID_UTF8') return { code: 1007, reason: 'Invalid UTF-8 in a text frame' };
  return { code: 1002, reason: 'Protocol error' };
}

/** API Gateway's wording for a close the client started (or a dropped socket). */
function clientCloseReason(code: number, reason: string): string {
  if (code === 1006) return 'Connection closed abnormally (no close frame)';
  return `Client-side close frame status code '${code}' (${CLOSE_NAMES[code] ?? 'UNKNOWN'}) - custom reason: ${reason}`;
}

function flatHeaders(raw: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) out[(raw[i] as string).toLowerCase()] = raw[i + 1] as string;
  return out;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
