import { mapSettledWithLimit } from './concurrency';
import type { Poster } from './management-api';
import { announce, logPresence, Presence, type PresenceChange } from './presence';
import type { Runtime } from './runtime';
import { ConnectionStore } from './store/connections';
import { errorDetails } from './telemetry';

/**
 * `$disconnect` (protocol §3) and the removal of gone connections: remove a connection with every
 * subscription when it goes; its user leaves the presence channels (§8) it was their last
 * connection on. `$connect` is shared/open-connection.ts (only it verifies tokens).
 */
type LifecycleRuntime = Pick<Runtime, 'db' | 'config' | 'policy' | 'log'>;

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
