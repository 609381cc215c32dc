import { HttpError } from '../shared/errors';
import { lambdaHandler } from '../shared/handler';
import { corsHeaders, routeHttp, type HttpRequest } from '../shared/http-api';
import { httpEventSchema, type HttpEvent, type LambdaResult } from '../shared/lambda-events';
import { defaultRuntime, type Runtime } from '../shared/runtime';

/**
 * HTTP API (payload v2): `/version`, `/events`, `/channels/<name>`, `/stats`, `/presence`, `/health`,
 * CORS; dispatched on the event's `routeKey` (shared/http-api.ts HTTP_ENDPOINTS).
 */
export function createHttpHandler(runtime: () => Promise<Runtime>) {
  return lambdaHandler(runtime, {
    name: 'http',
    schema: httpEventSchema,
    expects: 'an HTTP API (payload 2.0) event',
    keys: (e) => ({
      route: e.routeKey,
      ...(e.requestContext.requestId !== undefined && { apiRequestId: e.requestContext.requestId }),
    }),
    invalid: () => json(400, new HttpError('bad_request', 'malformed request').body(), {}),
    async handle(rt, e) {
      const req = request(e);
      const cors = corsHeaders(rt.config.corsOrigins, req.headers.origin);
      try {
        const reply = await routeHttp(rt, req);
        if (reply.body === undefined) return { statusCode: reply.status, headers: { ...cors, ...reply.headers } };
        return json(reply.status, reply.body, { ...cors, ...reply.headers });
      } catch (err) {
        if (err instanceof HttpError) return json(err.status, err.body(), cors);
        throw err;
      }
    },
    failed: (rt, e) =>
      json(
        500,
        new HttpError('internal', 'internal error').body(),
        corsHeaders(rt.config.corsOrigins, request(e).headers.origin),
      ),
  });
}

function request(e: HttpEvent): HttpRequest {
  return {
    routeKey: e.routeKey,
    method: e.requestContext.http.method.toUpperCase(),
    path: e.rawPath,
    pathParameters: e.pathParameters ?? {},
    query: e.queryStringParameters ?? {},
    headers: Object.fromEntries(Object.entries(e.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  };
}

function json(statusCode: number, body: unknown, headers: Record<string, string>): LambdaResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

export const handler = createHttpHandler(defaultRuntime);
