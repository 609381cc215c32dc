import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * The events AWS hands to Lambda, built field by field as API Gateway and SNS build them, so the
 * handlers run locally on exactly what they get deployed:
 * - API Gateway WebSocket: `$connect` (headers + query), message routes (body), `$disconnect`
 *   (status code + reason);
 * - API Gateway HTTP API payload format 2.0;
 * - SNS → Lambda (one record per invocation), from the SNS notification JSON an SQS subscription holds.
 */

export interface WsApi {
  /** `Host` of the gateway, e.g. `127.0.0.1:3001` (API Gateway: `{apiId}.execute-api.{region}.amazonaws.com`). */
  domainName: string;
  stage: string;
  apiId: string;
}

export interface WsConnectionContext {
  connectionId: string;
  connectedAt: number;
  sourceIp: string;
  userAgent: string | undefined;
}

/** API Gateway's connection ids: 16 characters of base64, e.g. `L0SM9cOFvHcCIhw=`. */
export function newConnectionId(): string {
  return randomBytes(11).toString('base64');
}

/** The client address as API Gateway reports it (`identity.sourceIp`): IPv4 without the v6 prefix. */
export function normalizeIp(ip: string | undefined): string {
  if (!ip) return '127.0.0.1';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** API Gateway's request ids in WebSocket events look like connection ids. */
function shortId(): string {
  return randomBytes(11).toString('base64');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** `requestTime` as API Gateway writes it: `23/Nov/2025:10:00:00 +0000` (CLF). */
export function clfTime(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

function baseRequestContext(api: WsApi, conn: WsConnectionContext, routeKey: string, eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT', now: number) {
  return {
    routeKey,
    eventType,
    extendedRequestId: shortId(),
    requestTime: clfTime(now),
    messageDirection: 'IN' as const,
    stage: api.stage,
    connectedAt: conn.connectedAt,
    requestTimeEpoch: now,
    identity: { ...(conn.userAgent !== undefined && { userAgent: conn.userAgent }), sourceIp: conn.sourceIp },
    requestId: shortId(),
    domainName: api.domainName,
    connectionId: conn.connectionId,
    apiId: api.apiId,
  };
}

/** Header maps as API Gateway (REST-style WebSocket events) sends them: original case, last value wins. */
function headerMaps(rawHeaders: string[]): { headers: Record<string, string>; multiValueHeaders: Record<string, string[]> } {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const value = rawHeaders[i + 1] as string;
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  return { headers, multiValueHeaders };
}

function queryMaps(search: URLSearchParams): { queryStringParameters?: Record<string, string>; multiValueQueryStringParameters?: Record<string, string[]> } {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [k, v] of search) {
    single[k] = v;
    (multi[k] ??= []).push(v);
  }
  // API Gateway leaves both out when the URL has no query string.
  return Object.keys(single).length === 0 ? {} : { queryStringParameters: single, multiValueQueryStringParameters: multi };
}

export function connectEvent(api: WsApi, conn: WsConnectionContext, req: { rawHeaders: string[]; search: URLSearchParams; port: number }, now = Date.now()) {
  const { headers, multiValueHeaders } = headerMaps(req.rawHeaders);
  // API Gateway adds the forwarding headers its load balancer sets.
  const forwarded = { 'X-Forwarded-For': conn.sourceIp, 'X-Forwarded-Port': String(req.port), 'X-Forwarded-Proto': 'http' };
  for (const [k, v] of Object.entries(forwarded)) {
    headers[k] = v;
    multiValueHeaders[k] = [v];
  }
  return {
    headers,
    multiValueHeaders,
    ...queryMaps(req.search),
    requestContext: baseRequestContext(api, conn, '$connect', 'CONNECT', now),
    isBase64Encoded: false,
  };
}

export function messageEvent(api: WsApi, conn: WsConnectionContext, routeKey: string, data: Buffer, isBinary: boolean, now = Date.now()) {
  return {
    requestContext: { ...baseRequestContext(api, conn, routeKey, 'MESSAGE', now), messageId: shortId() },
    // API Gateway hands text frames over as they are and binary frames base64-encoded.
    body: isBinary ? data.toString('base64') : data.toString('utf8'),
    isBase64Encoded: isBinary,
  };
}

export function disconnectEvent(api: WsApi, conn: WsConnectionContext, statusCode: number, reason: string, now = Date.now()) {
  const headers = { Host: api.domainName, 'X-Forwarded-For': conn.sourceIp, 'x-api-key': '', 'x-restapi': '' };
  return {
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    requestContext: { ...baseRequestContext(api, conn, '$disconnect', 'DISCONNECT', now), disconnectStatusCode: statusCode, disconnectReason: reason },
    isBase64Encoded: false,
  };
}

// ---- HTTP API, payload format 2.0 ----------------------------------------------------------------

export interface HttpApi {
  domainName: string;
  apiId: string;
}

export function httpV2Event(
  api: HttpApi,
  req: { method: string; rawUrl: string; headers: IncomingHttpHeaders; sourceIp: string; protocol: string; body: Buffer },
  route: { routeKey: string; pathParameters?: Record<string, string> },
  now = Date.now(),
) {
  const q = req.rawUrl.indexOf('?');
  const rawPath = q === -1 ? req.rawUrl : req.rawUrl.slice(0, q);
  const rawQueryString = q === -1 ? '' : req.rawUrl.slice(q + 1);
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (name === 'cookie') {
      cookies = (Array.isArray(value) ? value.join('; ') : value).split(/;\s*/).filter(Boolean);
      continue;
    }
    // Node lower-cases header names, as payload 2.0 does; repeated headers are joined with commas.
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQueryString)) query[k] = k in query ? `${query[k]},${v}` : v;
  const contentType = headers['content-type'] ?? '';
  const textual = req.body.length === 0 || /^(text\/|application\/(json|x-www-form-urlencoded|xml|javascript))|\+json|\+xml/.test(contentType);
  return {
    version: '2.0' as const,
    routeKey: route.routeKey,
    rawPath,
    rawQueryString,
    ...(cookies && { cookies }),
    headers,
    ...(Object.keys(query).length > 0 && { queryStringParameters: query }),
    requestContext: {
      accountId: '000000000000',
      apiId: api.apiId,
      domainName: api.domainName,
      domainPrefix: api.domainName.split('.')[0] ?? api.domainName,
      http: { method: req.method, path: safeDecodePath(rawPath), protocol: req.protocol, sourceIp: req.sourceIp, userAgent: headers['user-agent'] ?? '' },
      requestId: randomUUID(),
      routeKey: route.routeKey,
      stage: '$default',
      time: clfTime(now),
      timeEpoch: now,
    },
    ...(route.pathParameters && Object.keys(route.pathParameters).length > 0 && { pathParameters: route.pathParameters }),
    ...(req.body.length > 0 && { body: textual ? req.body.toString('utf8') : req.body.toString('base64') }),
    isBase64Encoded: !textual,
  };
}

function safeDecodePath(p: string): string {
  try {
    return decodeURI(p);
  } catch {
    return p;
  }
}
