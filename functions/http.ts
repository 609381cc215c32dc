import { HttpError } from '../shared/errors';
import { corsHeaders, PREFLIGHT_HEADERS, routeHttp, type HttpRequest } from '../shared/http-api';
import { httpEventSchema, type LambdaResult } from '../shared/lambda-events';
import { defaultRuntime, type Runtime } from '../shared/runtime';
import { errorDetails } from '../shared/telemetry';

/** HTTP API (payload v2): `/version`, `/events`, `/channels/<name>`, `/stats`, `/presence`, `/health`, CORS. */
export function createHttpHandler(runtime: () => Promise<Runtime>) {
  return async (event: unknown): Promise<LambdaResult> => {
    const rt = await runtime();
    const parsed = httpEventSchema.safeParse(event);
    if (!parsed.success) return json(400, new HttpError('bad_request', 'malformed request').body(), {});
    const e = parsed.data;
    const headers = Object.fromEntries(Object.entries(e.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const cors = corsHeaders(rt.config.corsOrigins, headers.origin);
    const method = e.requestContext.http.method.toUpperCase();
    if (method === 'OPTIONS') return { statusCode: 204, headers: { ...cors, ...PREFLIGHT_HEADERS } };
    const req: HttpRequest = { method, path: e.rawPath, query: e.queryStringParameters ?? {}, headers };
    try {
      return json(200, await routeHttp(rt, req), cors);
    } catch (err) {
      if (err instanceof HttpError) return json(err.status, err.body(), cors);
      rt.log.error('http request failed', { path: req.path, ...errorDetails(err) });
      return json(500, new HttpError('internal', 'internal error').body(), cors);
    }
  };
}

function json(statusCode: number, body: unknown, headers: Record<string, string>): LambdaResult {
  return { statusCode, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }, body: JSON.stringify(body) };
}

export const handler = createHttpHandler(defaultRuntime);
