import { isValidChannelName, parseChannelList } from './channel-rules';
import { replayFrame } from './client-actions';
import { HttpError, TokenError } from './errors';
import { Presence } from './presence';
import type { Runtime } from './runtime';
import { ChannelStore } from './store/channels';
import { ConnectionStore } from './store/connections';
import { readStats } from './store/stats';
import type { Identity } from './tokens';

/**
 * The HTTP API (protocol §5): polling fallback and operations. Each function takes the parsed
 * request and returns a JSON body or throws HttpError; the http handler shapes the response.
 */
export interface HttpRequest {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  headers: Record<string, string | undefined>;
}

export const MAX_VERSION_CHANNELS = 100;

export async function authenticate(rt: Runtime, req: HttpRequest): Promise<Identity> {
  const header = req.headers.authorization;
  const bearer = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
  if (header !== undefined && bearer === undefined) throw new HttpError('unauthorized', 'Authorization header must be "Bearer <token>"');
  try {
    return await rt.verifier.verify(bearer ?? req.query.token);
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
  if (channels.length > MAX_VERSION_CHANNELS) throw new HttpError('bad_request', `at most ${MAX_VERSION_CHANNELS} channels per request`);
  requireAllowed(rt, identity, channels);
  return { versions: await new ChannelStore(rt.db, rt.config).seqs(channels) };
}

export async function getEvents(rt: Runtime, req: HttpRequest): Promise<unknown> {
  const identity = await authenticate(rt, req);
  const channel = req.query.channel;
  if (!channel) throw new HttpError('bad_request', 'channel is required: ?channel=a&since=12');
  requireAllowed(rt, identity, [channel]);
  const since = nonNegativeInt(req.query.since, 'since', 0);
  const history = await new ChannelStore(rt.db, rt.config).history(channel, since);
  return { channel, seq: history.seq, events: history.events.map((e) => replayFrame(channel, e)), reset: history.reset };
}

export async function getChannel(rt: Runtime, req: HttpRequest, channel: string): Promise<unknown> {
  requireAdmin(await authenticate(rt, req));
  if (!isValidChannelName(channel)) throw new HttpError('bad_request', `invalid channel name "${channel.slice(0, 140)}"`);
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
export async function getPresence(rt: Runtime, req: HttpRequest): Promise<unknown> {
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

/** Routes a request to its endpoint; throws HttpError for anything the contract rejects. */
export async function routeHttp(rt: Runtime, req: HttpRequest): Promise<unknown> {
  // The contract's HTTP errors are 400/401/403/404/429: another method has no route, so 404.
  if (req.method !== 'GET') throw new HttpError('not_found', `no route for ${req.method} ${req.path}; the API is read-only (GET)`);
  if (req.path === '/health') return { ok: true };
  if (req.path === '/version') return getVersion(rt, req);
  if (req.path === '/events') return getEvents(rt, req);
  if (req.path === '/stats') return getStats(rt, req);
  if (req.path === '/presence') return getPresence(rt, req);
  const channel = req.path.match(/^\/channels\/([^/]+)$/)?.[1];
  if (channel !== undefined) return getChannel(rt, req, safeDecode(channel));
  throw new HttpError('not_found', `no route for GET ${req.path}`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** CORS headers for a request origin under the configured allow-list (`*` allows any). */
export function corsHeaders(allowed: readonly string[], origin: string | undefined): Record<string, string> {
  if (allowed.includes('*')) return { 'access-control-allow-origin': '*' };
  if (origin && allowed.includes(origin)) return { 'access-control-allow-origin': origin, vary: 'Origin' };
  return { vary: 'Origin' };
}

export const PREFLIGHT_HEADERS = {
  'access-control-allow-methods': 'GET, OPTIONS',
  'access-control-allow-headers': 'Authorization, Content-Type',
  'access-control-max-age': '600',
};
