import { isValidChannelName, parseChannelList } from './channel-rules';
import { replayFrame } from './client-actions';
import { HttpError, TokenError } from './errors';
import { Presence } from './presence';
import type { HTTP_ROUTES } from './routes';
import type { Runtime } from './runtime';
import { ChannelStore } from './store/channels';
import { ConnectionStore } from './store/connections';
import { readStats } from './store/stats';
import { verifierFor } from './tokens';
import type { Identity } from './tokens';
import type { EventsResponse, PresenceFrame } from './wire';

/**
 * The HTTP API (protocol §5): polling fallback and operations. Each function takes the parsed
 * request and returns a JSON body or throws HttpError; the http handler shapes the response.
 */
export interface HttpRequest {
  /** The HTTP_ROUTES key API Gateway matched (`$default` when none did). */
  routeKey: string;
  method: string;
  path: string;
  /** Path parameters of the matched route, decoded (`{name}` of `GET /channels/{name}`). */
  pathParameters: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  headers: Record<string, string | undefined>;
}

/** What an endpoint answers: a status, headers of its own and a JSON body (none for a preflight). */
export interface HttpReply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export type HttpRouteKey = (typeof HTTP_ROUTES)[number];

export const MAX_VERSION_CHANNELS = 100;

export async function authenticate(rt: Runtime, req: HttpRequest): Promise<Identity> {
  const header = req.headers.authorization;
  const bearer = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
  if (header !== undefined && bearer === undefined)
    throw new HttpError('unauthorized', 'Authorization header must be "Bearer <token>"');
  try {
    return await verifierFor(rt).verify(bearer ?? req.query.token);
  } catch (err) {
    if (err instanceof TokenError) throw new HttpError('unauthorized', err.message);
    throw err;
  }
}

function requireAllowed(rt: Runtime, identity: Identity, channels: readonly string[]): void {
  const invalid = channels.find((c) => !isValidChannelName(c));
  if (invalid !== undefined) throw new HttpError('bad_request', `invalid channel name "${invalid.slice(0, 140)}"`);
  const forbidden = rt.policy.firstForbidden(identity, channels);
  if (forbidden !== undefined) throw new HttpError('forbidden', `not allowed to read "${forbidden}"`);
}

function requireAdmin(identity: Identity): void {
  if (identity.role !== 'admin') throw new HttpError('forbidden', 'this endpoint needs an admin token');
}

function nonNegativeInt(value: string | undefined, name: string, def: number): number {
  if (value === undefined || value === '') return def;
  if (!/^\d{1,15}$/.test(value)) throw new HttpError('bad_request', `${name} must be a non-negative integer`);
  return Number(value);
}

export async function getVersion(rt: Runtime, req: HttpRequest): Promise<unknown> {
  const identity = await authenticate(rt, req);
  const channels = parseChannelList(req.query.channels);
  if (channels.length === 0) throw new HttpError('bad_request', 'channels is required: ?channels=a,b');
  if (channels.length > MAX_VERSION_CHANNELS)
    throw new HttpError('bad_request', `at most ${MAX_VERSION_CHANNELS} channels per request`);
  requireAllowed(rt, identity, channels);
  return { versions: await new ChannelStore(rt.db, rt.config).seqs(channels) };
}

export async function getEvents(rt: Runtime, req: HttpRequest): Promise<EventsResponse> {
  const identity = await authenticate(rt, req);
  const channel = req.query.channel;
  if (!channel) throw new HttpError('bad_request', 'channel is required: ?channel=a&since=12');
  requireAllowed(rt, identity, [channel]);
  const since = nonNegativeInt(req.query.since, 'since', 0);
  const history = await new ChannelStore(rt.db, rt.config).history(channel, since);
  return {
    channel,
    seq: history.seq,
    events: history.events.map((e) => replayFrame(channel, e)),
    reset: history.reset,
  };
}

export async function getChannel(rt: Runtime, req: HttpRequest, channel: string): Promise<unknown> {
  requireAdmin(await authenticate(rt, req));
  if (!isValidChannelName(channel))
    throw new HttpError('bad_request', `invalid channel name "${channel.slice(0, 140)}"`);
  const channels = new ChannelStore(rt.db, rt.config);
  const seq = await channels.seq(channel);
  const [subscribers, retained] = await Promise.all([
    new ConnectionStore(rt.db, rt.config.connectionTtlSeconds).countSubscribers(channel),
    channels.retainedCount(channel, seq),
  ]);
  return { channel, seq, subscribers, retained };
}

/**
 * `GET /presence?channel=a` (protocol §8): the body of the `presence` frame. A read only: connections
 * past their time are left out, and the leaves they make are sent by the WebSocket side's sweep.
 */
export async function getPresence(rt: Runtime, req: HttpRequest): Promise<PresenceFrame> {
  const identity = await authenticate(rt, req);
  const channel = req.query.channel;
  if (!channel) throw new HttpError('bad_request', 'channel is required: ?channel=a');
  requireAllowed(rt, identity, [channel]);
  if (!rt.policy.hasPresence(channel)) throw new HttpError('bad_request', `presence is off for "${channel}"`);
  const presence = new Presence(rt);
  const { members, occupancy } = await presence.read(channel, false);
  return { type: 'presence', channel, members, occupancy };
}

export async function getStats(rt: Runtime, req: HttpRequest): Promise<unknown> {
  requireAdmin(await authenticate(rt, req));
  return readStats(rt.db);
}

type Endpoint = (rt: Runtime, req: HttpRequest) => Promise<HttpReply>;
const ok =
  (endpoint: (rt: Runtime, req: HttpRequest) => Promise<unknown>): Endpoint =>
  async (rt, req) => ({ status: 200, body: await endpoint(rt, req) });
const preflight: Endpoint = () => Promise.resolve({ status: 204, headers: PREFLIGHT_HEADERS });

/**
 * Each HTTP_ROUTES key with its endpoint: the http handler dispatches on the event's `routeKey`, as
 * API Gateway matched it (the local HTTP API matches the same table).
 */
export const HTTP_ENDPOINTS: Record<HttpRouteKey, Endpoint> = {
  'GET /health': ok(() => Promise.resolve({ ok: true })),
  'GET /version': ok(getVersion),
  'GET /events': ok(getEvents),
  'GET /channels/{name}': ok((rt, req) => getChannel(rt, req, req.pathParameters.name ?? '')),
  'GET /stats': ok(getStats),
  'GET /presence': ok(getPresence),
  'OPTIONS /{proxy+}': preflight,
  // No route matched. The contract's HTTP errors are 400/401/403/404/429: another method has no
  // route, so 404; a preflight is answered on any path.
  $default: async (rt, req) => {
    if (req.method === 'OPTIONS') return preflight(rt, req);
    throw new HttpError(
      'not_found',
      req.method === 'GET'
        ? `no route for GET ${req.path}`
        : `no route for ${req.method} ${req.path}; the API is read-only (GET)`,
    );
  },
};

/** Answers a request by its route; throws HttpError for anything the contract rejects. */
export function routeHttp(rt: Runtime, req: HttpRequest): Promise<HttpReply> {
  const endpoint = (HTTP_ENDPOINTS as Record<string, Endpoint | undefined>)[req.routeKey] ?? HTTP_ENDPOINTS.$default;
  return endpoint(rt, req);
}

/** CORS headers for a request origin under the configured allow-list (`*` allows any). */
export function corsHeaders(allowed: readonly string[], origin: string | undefined): Record<string, string> {
  if (allowed.includes('*')) return { 'access-control-allow-origin': '*' };
  if (origin && allowed.includes(origin)) return { 'access-control-allow-origin': origin, vary: 'Origin' };
  return { vary: 'Origin' };
}

export const PREFLIGHT_HEADERS: Record<string, string> = {
  'access-control-allow-methods': 'GET, OPTIONS',
  'access-control-allow-headers': 'Authorization, Content-Type',
  'access-control-max-age': '600',
};
