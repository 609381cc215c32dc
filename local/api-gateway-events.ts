import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Message } from '@aws-sdk/client-sqs';
import type {
  APIGatewayEventWebsocketRequestContextV2,
  APIGatewayProxyEventV2,
  APIGatewayProxyWebsocketEventV2WithRequestContext,
  SQSRecord,
  SQSRecordAttributes,
} from 'aws-lambda';
import { HTTP_ROUTES } from '../shared/routes';
import { safeDecode } from './http-util';

/**
 * The events AWS hands to Lambda, built field by field as API Gateway and Lambda's SQS event source
 * mapping build them (typed by @types/aws-lambda), so the handlers run locally on exactly what they
 * get deployed. The local emulator and the tests (test/helpers/events.ts) build every event here:
 * - API Gateway WebSocket: `$connect` (headers + query), message routes (body), `$disconnect`
 *   (status code + reason);
 * - API Gateway HTTP API payload format 2.0, with the route API Gateway would match (`matchHttpRoute`);
 * - SQS records, as an event source mapping hands them to a function.
 */

/**
 * aws-lambda's WebSocket event, with what its type leaves out and API Gateway sends: `identity`, the
 * `$disconnect` status and reason, headers on `$connect` and `$disconnect`; `messageId` only on messages.
 */
export type WebSocketLambdaEvent = APIGatewayProxyWebsocketEventV2WithRequestContext<
  Omit<APIGatewayEventWebsocketRequestContextV2, 'messageId'> & {
    messageId?: string;
    identity: { sourceIp: string; userAgent?: string };
    disconnectStatusCode?: number;
    disconnectReason?: string;
  }
> & { headers?: Record<string, string>; multiValueHeaders?: Record<string, string[]> };

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

function baseRequestContext(
  api: WsApi,
  conn: WsConnectionContext,
  routeKey: string,
  eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT',
  now: number,
): WebSocketLambdaEvent['requestContext'] {
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
function headerMaps(rawHeaders: string[]): {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
} {
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

function queryMaps(search: URLSearchParams): {
  queryStringParameters?: Record<string, string>;
  multiValueQueryStringParameters?: Record<string, string[]>;
} {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [k, v] of search) {
    single[k] = v;
    (multi[k] ??= []).push(v);
  }
  // API Gateway leaves both out when the URL has no query string.
  return Object.keys(single).length === 0
    ? {}
    : { queryStringParameters: single, multiValueQueryStringParameters: multi };
}

export function connectEvent(
  api: WsApi,
  conn: WsConnectionContext,
  req: { rawHeaders: string[]; search: URLSearchParams; port: number },
  now = Date.now(),
): WebSocketLambdaEvent {
  const { headers, multiValueHeaders } = headerMaps(req.rawHeaders);
  // API Gateway adds the forwarding headers its load balancer sets.
  const forwarded = {
    'X-Forwarded-For': conn.sourceIp,
    'X-Forwarded-Port': String(req.port),
    'X-Forwarded-Proto': 'http',
  };
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

export function messageEvent(
  api: WsApi,
  conn: WsConnectionContext,
  routeKey: string,
  data: Buffer,
  isBinary: boolean,
  now = Date.now(),
): WebSocketLambdaEvent {
  return {
    requestContext: { ...baseRequestContext(api, conn, routeKey, 'MESSAGE', now), messageId: shortId() },
    // API Gateway hands text frames over as they are and binary frames base64-encoded.
    body: isBinary ? data.toString('base64') : data.toString('utf8'),
    isBase64Encoded: isBinary,
  };
}

export function disconnectEvent(
  api: WsApi,
  conn: WsConnectionContext,
  statusCode: number,
  reason: string,
  now = Date.now(),
): WebSocketLambdaEvent {
  const headers = { Host: api.domainName, 'X-Forwarded-For': conn.sourceIp, 'x-api-key': '', 'x-restapi': '' };
  return {
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    requestContext: {
      ...baseRequestContext(api, conn, '$disconnect', 'DISCONNECT', now),
      disconnectStatusCode: statusCode,
      disconnectReason: reason,
    },
    isBase64Encoded: false,
  };
}

// ---- HTTP API, payload format 2.0 ----------------------------------------------------------------

export interface RouteMatch {
  routeKey: string;
  pathParameters?: Record<string, string>;
}

interface CompiledRoute {
  routeKey: string;
  method: string;
  regex: RegExp;
  params: string[];
  /** Literal characters: the more, the more specific (API Gateway prefers the most specific route). */
  specificity: number;
  greedy: boolean;
}

function compile(routeKey: string): CompiledRoute {
  const [method, routePath] = routeKey.split(' ') as [string, string];
  const params: string[] = [];
  let greedy = false;
  const pattern = routePath
    .split('/')
    .map((seg) => {
      const m = seg.match(/^\{([A-Za-z0-9_]+)(\+)?\}$/);
      if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      params.push(m[1] as string);
      if (m[2]) {
        greedy = true;
        return '(.+)';
      }
      return '([^/]+)';
    })
    .join('/');
  return {
    routeKey,
    method,
    regex: new RegExp(`^${pattern}$`),
    params,
    specificity: routePath.replace(/\{[^}]+\}/g, '').length,
    greedy,
  };
}

const COMPILED = HTTP_ROUTES.filter((r) => r !== '$default')
  .map(compile)
  .sort((a, b) => Number(a.greedy) - Number(b.greedy) || b.specificity - a.specificity);

/** The HTTP API route (of HTTP_ROUTES) a request matches, with its path parameters (decoded), as API Gateway picks it. */
export function matchHttpRoute(method: string, rawPath: string): RouteMatch | undefined {
  for (const r of COMPILED) {
    if (r.method !== 'ANY' && r.method !== method) continue;
    const m = rawPath.match(r.regex);
    if (!m) continue;
    const pathParameters: Record<string, string> = {};
    r.params.forEach((p, i) => (pathParameters[p] = safeDecode(m[i + 1] as string)));
    return { routeKey: r.routeKey, ...(r.params.length > 0 && { pathParameters }) };
  }
  return undefined;
}

export interface HttpApi {
  domainName: string;
  apiId: string;
}

export function httpV2Event(
  api: HttpApi,
  req: {
    method: string;
    rawUrl: string;
    headers: IncomingHttpHeaders;
    sourceIp: string;
    protocol: string;
    body: Buffer;
  },
  route: RouteMatch,
  now = Date.now(),
): APIGatewayProxyEventV2 {
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
  const textual =
    req.body.length === 0 ||
    /^(text\/|application\/(json|x-www-form-urlencoded|xml|javascript))|\+json|\+xml/.test(contentType);
  return {
    version: '2.0',
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
      http: {
        method: req.method,
        path: safeDecode(rawPath, decodeURI),
        protocol: req.protocol,
        sourceIp: req.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: route.routeKey,
      stage: '$default',
      time: clfTime(now),
      timeEpoch: now,
    },
    ...(route.pathParameters &&
      Object.keys(route.pathParameters).length > 0 && { pathParameters: route.pathParameters }),
    ...(req.body.length > 0 && { body: textual ? req.body.toString('utf8') : req.body.toString('base64') }),
    isBase64Encoded: !textual,
  };
}

// ---- SQS event source mapping ---------------------------------------------------------------------

/** The record Lambda's SQS event source mapping hands a function, from a message received with all attributes. */
export function sqsRecord(m: Message, eventSourceARN: string, awsRegion: string): SQSRecord {
  return {
    messageId: m.MessageId as string,
    receiptHandle: m.ReceiptHandle as string,
    body: m.Body ?? '',
    // Received with AttributeNames All: the system attributes an event source mapping passes on.
    attributes: (m.Attributes ?? {}) as unknown as SQSRecordAttributes,
    messageAttributes: Object.fromEntries(
      Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [
        k,
        { dataType: v.DataType ?? 'String', ...(v.StringValue !== undefined && { stringValue: v.StringValue }) },
      ]),
    ),
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN,
    awsRegion,
  };
}
