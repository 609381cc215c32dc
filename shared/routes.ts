import type { ClientFrame } from './wire';

/**
 * The one route table: WebSocket route key → the Lambda entry point that serves it.
 *
 * The CDK stack creates exactly these routes and integrations, and the local gateway dispatches
 * exactly these route keys, so local mode cannot drift from what deploys. Route selection is
 * `$request.body.action`: a frame whose `action` is not a key here (or that is not JSON) goes to
 * `$default`, which answers `bad_request` or `unknown_action`.
 */
export const ROUTE_SELECTION_EXPRESSION = '$request.body.action';

/** Entry points under `functions/` (file name without extension) with their export `handler`. */
export const FUNCTIONS = ['connect', 'disconnect', 'message', 'fanout', 'sequencer', 'deliver', 'http'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

export const WEBSOCKET_ROUTES = {
  $connect: 'connect',
  $disconnect: 'disconnect',
  subscribe: 'message',
  unsubscribe: 'message',
  ping: 'message',
  presence: 'message',
  $default: 'message',
} as const satisfies Record<string, FunctionName>;

export type RouteKey = keyof typeof WEBSOCKET_ROUTES;

/** Client actions that have a route of their own (everything else reaches `$default`). */
export const CLIENT_ACTIONS = [
  'subscribe',
  'unsubscribe',
  'ping',
  'presence',
] as const satisfies readonly ClientFrame['action'][];
export type ClientAction = (typeof CLIENT_ACTIONS)[number];

/**
 * HTTP API routes (payload format 2.0), all served by the `http` function. `$default` catches every
 * request no other route matches, so an unknown path or method gets the contract's 404 `not_found`
 * body with CORS headers from the function (protocol §5), not API Gateway's bare `Not Found`.
 */
export const HTTP_ROUTES = [
  'GET /health',
  'GET /version',
  'GET /events',
  'GET /channels/{name}',
  'GET /stats',
  'GET /presence',
  'OPTIONS /{proxy+}',
  '$default',
] as const;

export function routeKeyFor(action: unknown): RouteKey {
  return typeof action === 'string' && (CLIENT_ACTIONS as readonly string[]).includes(action)
    ? (action as ClientAction)
    : '$default';
}
