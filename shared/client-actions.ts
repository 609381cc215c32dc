import type { ChannelPolicy } from './channel-rules';
import type { Config } from './config';
import { ClientError, errorFrame } from './errors';
import {
  withId,
  type ClientFrame,
  type EventFrame,
  type PresenceRequestFrame,
  type ServerFrame,
  type SubscribeFrame,
} from './frames';
import { Presence, type PresenceChange } from './presence';
import { ChannelStore, type StoredEvent } from './store/channels';
import { ConnectionStore, type ConnectionRecord } from './store/connections';
import type { Db } from './store/db';

/**
 * What the server does for each client action, as the ordered list of frames to send back
 * (`subscribed` before replayed events). Handlers post them; this module never talks to sockets.
 * Presence work that can wait (the membership write of a subscribe, a ping's sweep) is returned as
 * `after`, for the handler to run once the reply is out; it resolves with the joins and leaves to
 * announce (shared/presence.ts).
 */
export interface ClientActionDeps {
  db: Db;
  policy: ChannelPolicy;
  config: Pick<
    Config,
    | 'retainEvents'
    | 'retainSeconds'
    | 'maxSubscriptions'
    | 'connectionTtlSeconds'
    | 'presenceTtlSeconds'
    | 'postConcurrency'
  >;
}

export interface ActionResult {
  frames: ServerFrame[];
  /** Presence work to run after the reply (its DynamoDB operations count in `presence.ops`). */
  after?: () => Promise<PresenceChange[]>;
  presence?: Presence;
}

export async function performClientAction(
  deps: ClientActionDeps,
  connectionId: string,
  frame: ClientFrame,
): Promise<ActionResult> {
  try {
    switch (frame.action) {
      case 'ping':
        return await ping(deps, connectionId, frame.id);
      case 'subscribe':
        return await subscribe(deps, connectionId, frame);
      case 'unsubscribe': {
        const removed = await new ConnectionStore(deps.db, deps.config.connectionTtlSeconds).unsubscribe(
          connectionId,
          frame.channel,
        );
        const frames = [withId({ type: 'unsubscribed' as const, channel: frame.channel }, frame.id)];
        if (!removed || !deps.policy.hasPresence(frame.channel)) return { frames };
        const presence = new Presence(deps);
        return { frames, presence, after: () => presence.connectionLeft(connectionId, [frame.channel]) };
      }
      case 'presence':
        return await presenceOf(deps, connectionId, frame);
    }
  } catch (err) {
    if (err instanceof ClientError) return { frames: [errorFrame(err.code, err.message, frame.id)] };
    throw err;
  }
}

async function ping(deps: ClientActionDeps, connectionId: string, id: string | undefined): Promise<ActionResult> {
  // One Query: the connection record (for presence) and its channels.
  const { record, channels } = await new ConnectionStore(deps.db, deps.config.connectionTtlSeconds).describe(
    connectionId,
  );
  // A client whose last event was lost notices it from these seqs without waiting for the next one.
  const seqs = channels.length > 0 ? await new ChannelStore(deps.db, deps.config).seqs(channels) : {};
  const frames = [withId({ type: 'pong' as const, ts: deps.db.clock.now(), seqs }, id)];
  if (!record || !channels.some((c) => deps.policy.hasPresence(c))) return { frames };
  const presence = new Presence(deps);
  return { frames, presence, after: () => presence.heartbeat(connectionId, record.identity, channels) };
}

/** The connection, if it may hear `channel` now (its token not expired): else the error the contract names. */
async function allowed(
  deps: ClientActionDeps,
  connections: ConnectionStore,
  connectionId: string,
  channel: string,
): Promise<ConnectionRecord> {
  const conn = await connections.get(connectionId);
  if (!conn) throw new ClientError('internal', 'this connection is not registered any more; reconnect');
  if (conn.identity.exp * 1000 <= deps.db.clock.now())
    throw new ClientError('forbidden', 'token expired; reconnect with a fresh token');
  if (!deps.policy.canSubscribe(conn.identity, channel))
    throw new ClientError('forbidden', `not allowed to subscribe to "${channel}"`);
  return conn;
}

async function subscribe(deps: ClientActionDeps, connectionId: string, frame: SubscribeFrame): Promise<ActionResult> {
  const connections = new ConnectionStore(deps.db, deps.config.connectionTtlSeconds);
  const conn = await allowed(deps, connections, connectionId, frame.channel);

  const outcome = await connections.subscribe(connectionId, frame.channel, deps.config.maxSubscriptions);
  if (outcome === 'limit')
    throw new ClientError('limit', `at most ${deps.config.maxSubscriptions} subscriptions per connection`);
  if (outcome === 'gone') throw new ClientError('internal', 'this connection is not registered any more; reconnect');

  const frames = await subscribedFrames(deps, frame);
  if (!deps.policy.hasPresence(frame.channel)) return { frames };
  // Also for a repeated subscribe: adding is idempotent, and it repairs an entry a sweep took.
  const presence = new Presence(deps);
  return {
    frames,
    presence,
    after: () => presence.joined(connectionId, conn.identity, [frame.channel], { recheck: true }),
  };
}

async function subscribedFrames(deps: ClientActionDeps, frame: SubscribeFrame): Promise<ServerFrame[]> {
  // Subscribed first, then read: an event published meanwhile is delivered live and may also be
  // replayed; clients drop the second copy by seq / id.
  const channels = new ChannelStore(deps.db, deps.config);
  if (frame.since === undefined) {
    return [
      withId({ type: 'subscribed' as const, channel: frame.channel, seq: await channels.seq(frame.channel) }, frame.id),
    ];
  }
  const history = await channels.history(frame.channel, frame.since);
  const subscribed = withId({ type: 'subscribed' as const, channel: frame.channel, seq: history.seq }, frame.id);
  if (history.reset) return [subscribed, { type: 'reset', channel: frame.channel, seq: history.seq }];
  return [subscribed, ...history.events.map((e) => replayFrame(frame.channel, e))];
}

/** `presence` (protocol §8): who is online; expired connections are swept first (their leaves go out after the reply). */
async function presenceOf(
  deps: ClientActionDeps,
  connectionId: string,
  frame: PresenceRequestFrame,
): Promise<ActionResult> {
  await allowed(deps, new ConnectionStore(deps.db, deps.config.connectionTtlSeconds), connectionId, frame.channel);
  if (!deps.policy.hasPresence(frame.channel))
    throw new ClientError('bad_request', `presence is off for "${frame.channel}"`);
  const presence = new Presence(deps);
  const { members, occupancy, changes } = await presence.read(frame.channel, true);
  const frames = [withId({ type: 'presence' as const, channel: frame.channel, members, occupancy }, frame.id)];
  return changes.length > 0 ? { frames, presence, after: () => Promise.resolve(changes) } : { frames, presence };
}

/** A retained event as sent on replay: only the replayed channel in `seqs`. */
export function replayFrame(channel: string, e: StoredEvent): EventFrame {
  return { type: 'event', id: e.id, event: e.event, data: e.data, ts: e.ts, channel, seqs: { [channel]: e.seq } };
}
