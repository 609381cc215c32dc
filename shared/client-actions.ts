import type { ChannelPolicy } from './channel-rules';
import type { Config } from './config';
import { ClientError, errorFrame } from './errors';
import { withId, type ClientFrame, type EventFrame, type ServerFrame, type SubscribeFrame } from './frames';
import { ChannelStore, type StoredEvent } from './store/channels';
import { ConnectionStore } from './store/connections';
import type { Db } from './store/db';

/**
 * What the server does for each client action, as the ordered list of frames to send back
 * (`subscribed` before replayed events). Handlers post them; this module never talks to sockets.
 */
export interface ClientActionDeps {
  db: Db;
  policy: ChannelPolicy;
  config: Pick<Config, 'retainEvents' | 'retainSeconds' | 'maxSubscriptions' | 'connectionTtlSeconds'>;
}

export async function performClientAction(deps: ClientActionDeps, connectionId: string, frame: ClientFrame): Promise<ServerFrame[]> {
  try {
    switch (frame.action) {
      case 'ping': {
        // A client whose last event was lost notices it from these seqs without waiting for the next one.
        const channels = await new ConnectionStore(deps.db, deps.config.connectionTtlSeconds).channelsOf(connectionId);
        const seqs = channels.length > 0 ? await new ChannelStore(deps.db, deps.config).seqs(channels) : {};
        return [withId({ type: 'pong' as const, ts: deps.db.clock.now(), seqs }, frame.id)];
      }
      case 'subscribe':
        return await subscribe(deps, connectionId, frame);
      case 'unsubscribe':
        await new ConnectionStore(deps.db, deps.config.connectionTtlSeconds).unsubscribe(connectionId, frame.channel);
        return [withId({ type: 'unsubscribed' as const, channel: frame.channel }, frame.id)];
    }
  } catch (err) {
    if (err instanceof ClientError) return [errorFrame(err.code, err.message, frame.id)];
    throw err;
  }
}

async function subscribe(deps: ClientActionDeps, connectionId: string, frame: SubscribeFrame): Promise<ServerFrame[]> {
  const connections = new ConnectionStore(deps.db, deps.config.connectionTtlSeconds);
  const conn = await connections.get(connectionId);
  if (!conn) throw new ClientError('internal', 'this connection is not registered any more; reconnect');
  if (conn.identity.exp * 1000 <= deps.db.clock.now()) throw new ClientError('forbidden', 'token expired; reconnect with a fresh token');
  if (!deps.policy.canSubscribe(conn.identity, frame.channel)) throw new ClientError('forbidden', `not allowed to subscribe to "${frame.channel}"`);

  const outcome = await connections.subscribe(connectionId, frame.channel, deps.config.maxSubscriptions);
  if (outcome === 'limit') throw new ClientError('limit', `at most ${deps.config.maxSubscriptions} subscriptions per connection`);
  if (outcome === 'gone') throw new ClientError('internal', 'this connection is not registered any more; reconnect');

  // Subscribed first, then read: an event published meanwhile is delivered live and may also be
  // replayed; clients drop the second copy by seq / id.
  const channels = new ChannelStore(deps.db, deps.config);
  if (frame.since === undefined) {
    return [withId({ type: 'subscribed' as const, channel: frame.channel, seq: await channels.seq(frame.channel) }, frame.id)];
  }
  const history = await channels.history(frame.channel, frame.since);
  const subscribed = withId({ type: 'subscribed' as const, channel: frame.channel, seq: history.seq }, frame.id);
  if (history.reset) return [subscribed, { type: 'reset', channel: frame.channel, seq: history.seq }];
  return [subscribed, ...history.events.map((e) => replayFrame(frame.channel, e))];
}

/** A retained event as sent on replay: only the replayed channel in `seqs`. */
export function replayFrame(channel: string, e: StoredEvent): EventFrame {
  return { type: 'event', id: e.id, event: e.event, data: e.data, ts: e.ts, channel, seqs: { [channel]: e.seq } };
}
