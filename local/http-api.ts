import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { httpV2Event, matchHttpRoute, normalizeIp, type HttpApi } from './api-gateway-events';
import { readBody, safeDecode } from './http-util';
import { invoke } from './lambda-invoker';
import type { LocalLog } from './log';
import { listen } from './ports';
import type { LambdaHandler } from './ws-gateway';

/**
 * The local API Gateway HTTP API: the routes of HTTP_ROUTES go to the http handler as payload 2.0
 * events. Local-only extras come first for what no route matches: mounted extensions (the demo
 * backend), then, for GET and HEAD, a static file from `publicDir` (the demo page). Anything left
 * goes to the `$default` route, i.e. to the http handler as on AWS, which answers the contract's
 * 404 `not_found` with CORS headers (protocol §5). The handler runs through local/lambda-invoker.ts
 * `invoke`, so the http function's timeout (shared/pipeline.ts FUNCTION_SETTINGS) is enforced; a
 * handler that throws or times out answers what an HTTP API answers for a failed integration:
 * `500 {"message":"Internal Server Error"}`.
 */
export const PUBLIC_DIR = path.join(__dirname, 'public');
const MAX_BODY_BYTES = 10 * 1024 * 1024; // HTTP API's payload limit

export interface HttpApiOptions {
  port: number;
  host?: string;
  handler: LambdaHandler;
  publicDir?: string;
  log?: LocalLog;
  /** Test hook: the http function's timeout in ms instead of FUNCTION_SETTINGS.http. */
  timeoutMs?: number;
}

/** Extra local-only routes (the demo backend): answers and returns true, or returns false to pass. */
export type HttpExtension = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>;

export interface LocalHttpApi {
  port: number;
  url: string;
  /** Adds local-only routes, tried after the HTTP API routes and before the static files. */
  mount(extension: HttpExtension): void;
  stop(): Promise<void>;
}

export async function startHttpApi(opts: HttpApiOptions): Promise<LocalHttpApi> {
  const host = opts.host ?? '127.0.0.1';
  const publicDir = path.resolve(opts.publicDir ?? PUBLIC_DIR);
  const log = opts.log ?? (() => undefined);
  let api: HttpApi = { domainName: host, apiId: 'local' };
  const extensions: HttpExtension[] = [];

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log('warn', `http request failed: ${(err as Error)?.message ?? String(err)}`);
      send(res, 500, { 'content-type': 'application/json' }, JSON.stringify({ message: 'Internal Server Error' }));
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    const rawPath = rawUrl.split('?')[0] ?? '/';
    const route = matchHttpRoute(method, rawPath);
    if (!route) {
      for (const extension of extensions) if (await extension(req, res)) return;
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === undefined)
      return send(
        res,
        413,
        { 'content-type': 'application/json' },
        JSON.stringify({ message: 'Request Entity Too Large' }),
      );
    if (!route && (method === 'GET' || method === 'HEAD') && serveStatic(res, publicDir, rawPath, method === 'HEAD'))
      return;
    // What no route matches goes to `$default` (HTTP_ROUTES), served by the same http handler.
    const event = httpV2Event(
      api,
      {
        method,
        rawUrl,
        headers: req.headers,
        sourceIp: normalizeIp(req.socket.remoteAddress),
        protocol: `HTTP/${req.httpVersion}`,
        body,
      },
      route ?? { routeKey: '$default' },
    );
    let result: unknown;
    try {
      result = await invoke(opts.handler, event, { fn: 'http', timeoutMs: opts.timeoutMs });
    } catch (err) {
      log('warn', `http handler failed: ${(err as Error)?.message ?? String(err)}`);
      return send(
        res,
        500,
        { 'content-type': 'application/json' },
        JSON.stringify({ message: 'Internal Server Error' }),
      );
    }
    sendLambdaResult(res, result, method === 'HEAD');
  }

  const port = await listen(server, opts.port, host, 'HTTP_PORT');
  api = { domainName: `${host}:${port}`, apiId: 'local' };
  return {
    port,
    url: `http://${host}:${port}`,
    mount: (extension) => void extensions.push(extension),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Payload 2.0 responses: `{statusCode, headers, body, isBase64Encoded, cookies}`, or any JSON value as a 200. */
function sendLambdaResult(res: http.ServerResponse, result: unknown, headOnly: boolean): void {
  const headers: Record<string, string | string[]> = { 'apigw-requestid': randomUUID() };
  if (typeof result === 'object' && result !== null && 'statusCode' in result) {
    const r = result as {
      statusCode: number;
      headers?: Record<string, unknown>;
      body?: unknown;
      isBase64Encoded?: boolean;
      cookies?: string[];
    };
    for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = String(v);
    if (r.cookies?.length) headers['set-cookie'] = r.cookies;
    const body =
      typeof r.body === 'string'
        ? r.isBase64Encoded
          ? Buffer.from(r.body, 'base64')
          : Buffer.from(r.body, 'utf8')
        : Buffer.alloc(0);
    return send(res, Number(r.statusCode), headers, headOnly ? Buffer.alloc(0) : body);
  }
  const body = result === undefined ? '' : typeof result === 'string' ? result : JSON.stringify(result);
  send(res, 200, { ...headers, 'content-type': 'application/json' }, headOnly ? '' : body);
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** Serves a file of the public directory; false when there is none (nothing is sent then). */
function serveStatic(res: http.ServerResponse, publicDir: string, rawPath: string, headOnly: boolean): boolean {
  const rel = safeDecode(rawPath);
  let file = path.resolve(publicDir, `.${rel.endsWith('/') ? `${rel}index.html` : rel}`);
  // Never serve anything outside the public directory.
  if (file !== publicDir && !file.startsWith(publicDir + path.sep)) return false;
  let body: Buffer;
  try {
    if (fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    body = fs.readFileSync(file);
  } catch {
    return false;
  }
  send(
    res,
    200,
    {
      'content-type': CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
    },
    headOnly ? Buffer.alloc(0) : body,
  );
  return true;
}

function send(
  res: http.ServerResponse,
  status: number,
  headers: Record<string, string | string[]>,
  body: string | Buffer,
): void {
  if (res.headersSent) return;
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
