import { parseChannelList } from './channel-rules';
import { CHANNEL_NAME_PATTERN } from './wire';
import { mapSettledWithLimit } from './concurrency';
import { TokenError } from './errors';
import type { Poster } from './management-api';
import { announce, logPresence, Presence, type PresenceChange } from './presence';
import type { Runtime } from './runtime';
import { ConnectionStore } from './store/connections';
import { verifierFor } from './tokens';
import { errorDetails } from './telemetry';

/**
 * `$connect` and `$disconnect` (protocol §3): verify the token, check and record the channels named
 * in `?channels=`, and remove a connection with every subscription when it goes. Presence (§8):
 * the channels of the handshake join like subscribes; a removed connection's user leaves the
 * presence channels it was their last connection on.
 */
export interface ConnectOutcome {
  status: 200 | 400 | 401 | 403;
  message: string;
}

type LifecycleRuntime = Pick<Runtime, 'db' | 'config' | 'policy' | 'log'>;

export async function openConnection(
  rt: Runtime,
  connectionId: string,
  query: Record<string, string | undefined>,
  poster: () => Poster,
): Promise<ConnectOutcome> {
  let identity;
  try {
    identity = await verifierFor(rt).verify(query.token);
  } catch (err) {
    if (err instanceof TokenError) return { status: 401, message: `Unauthorized: ${err.message}` };
    throw err;
  }
  const channels = parseChannelList(query.channels);
  const invalid = channels.find((c) => !CHANNEL_NAME_PATTERN.test(c));
  if (invalid !== undefined)
    return { status: 400, message: `Bad Request: invalid channel name "${invalid.slice(0, 140)}"` };
  if (channels.length > rt.config.maxSubscriptions)
    return { status: 400, message: `Bad Request: at most ${rt.config.maxSubscriptions} channels per connection` };
  const forbidden = rt.policy.firstForbidden(identity, channels);
  if (forbidden !== undefined) return { status: 403, message: `Forbidden: not allowed to subscribe to "${forbidden}"` };
  await new ConnectionStore(rt.db, rt.config.connectionTtlSeconds).create(connectionId, identity, channels);
  const presence = new Presence(rt);
  if (presence.channels(channels).length > 0) {
    // The connection is not established yet: nothing is posted to it (it asks `presence` itself).
    const id = identity;
    await presenceStep(
      rt,
      poster,
      presence,
      'connect',
      () => presence.joined(connectionId, id, channels, { recheck: false }),
      connectionId,
    );
  }
  return { status: 200, message: 'Connected' };
}

export async function closeConnection(
  rt: LifecycleRuntime,
  connectionId: string,
  poster: () => Poster,
): Promise<{ existed: boolean; subscriptions: number }> {
  const [removed] = await dropConnections(rt, poster, [connectionId], 'disconnect');
  if (removed?.status === 'rejected') throw removed.reason;
  return removed?.status === 'fulfilled' ? removed.value : { existed: false, subscriptions: 0 };
}

/**
 * Removes connections ($disconnect, or 410 Gone) with their subscriptions; their users leave the
 * presence channels where these were their last connections. Connections that answer 410 to those
 * leave frames are removed in turn (once: what they leave is announced without going further).
 */
export async function dropConnections(
  rt: LifecycleRuntime,
  poster: () => Poster,
  ids: readonly string[],
  what: string,
  depth = 0,
): Promise<PromiseSettledResult<{ existed: boolean; subscriptions: number }>[]> {
  const presence = new Presence(rt);
  const connections = new ConnectionStore(rt.db, rt.config.connectionTtlSeconds);
  const changes: PresenceChange[] = [];
  const results = await mapSettledWithLimit(ids, 8, async (id) => {
    const removed = await connections.remove(id);
    if (removed.identity && presence.channels(removed.channels).length > 0) {
      const sub = removed.identity.sub;
      changes.push(...(await guarded(rt, what, () => presence.left(id, sub, removed.channels))));
    }
    return { existed: removed.existed, subscriptions: removed.subscriptions };
  });
  if (changes.length > 0) {
    const gone = await presenceStep(rt, poster, presence, what, () => Promise.resolve(changes));
    if (gone.length > 0 && depth < 1) await dropConnections(rt, poster, gone, 'gone', depth + 1);
  }
  return results;
}

/**
 * Runs a presence step and announces its joins and leaves; logs its operations and posts. Presence
 * never fails what it rides on: an error is logged, and the heartbeat repairs the entry within
 * `presenceTtlSeconds` (a missed add is added again at the next ping; a missed removal expires).
 * Returns the established connections that answered 410 (for the caller to remove).
 */
export async function presenceStep(
  rt: Pick<Runtime, 'db' | 'config' | 'log'>,
  poster: () => Poster,
  presence: Presence,
  what: string,
  work: () => Promise<PresenceChange[]>,
  exclude?: string,
): Promise<string[]> {
  try {
    const changes = await work();
    if (changes.length === 0) {
      logPresence(rt.log, what, presence.ops);
      return [];
    }
    const report = await announce({ db: rt.db, config: rt.config, poster: poster() }, changes, {
      ops: presence.ops,
      exclude,
    });
    logPresence(rt.log, what, presence.ops, report);
    return report.gone;
  } catch (err) {
    rt.log.warn('presence step failed', { what, ...errorDetails(err) });
    return [];
  }
}

async function guarded(
  rt: Pick<Runtime, 'log'>,
  what: string,
  work: () => Promise<PresenceChange[]>,
): Promise<PresenceChange[]> {
  try {
    return await work();
  } catch (err) {
    rt.log.warn('presence step failed', { what, ...errorDetails(err) });
    return [];
  }
}
