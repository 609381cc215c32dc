import { CHANNEL_NAME_PATTERN, parseChannelList } from './channel-rules';
import { TokenError } from './errors';
import type { Runtime } from './runtime';
import { ConnectionStore } from './store/connections';

/**
 * `$connect` and `$disconnect` (protocol §3): verify the token, check and record the channels named
 * in `?channels=`, and remove a connection with every subscription when it goes.
 */
export interface ConnectOutcome {
  status: 200 | 400 | 401 | 403;
  message: string;
}

export async function openConnection(rt: Runtime, connectionId: string, query: Record<string, string | undefined>): Promise<ConnectOutcome> {
  let identity;
  try {
    identity = await rt.verifier.verify(query.token);
  } catch (err) {
    if (err instanceof TokenError) return { status: 401, message: `Unauthorized: ${err.message}` };
    throw err;
  }
  const channels = parseChannelList(query.channels);
  const invalid = channels.find((c) => !CHANNEL_NAME_PATTERN.test(c));
  if (invalid !== undefined) return { status: 400, message: `Bad Request: invalid channel name "${invalid.slice(0, 140)}"` };
  if (channels.length > rt.config.maxSubscriptions) return { status: 400, message: `Bad Request: at most ${rt.config.maxSubscriptions} channels per connection` };
  const forbidden = rt.policy.firstForbidden(identity, channels);
  if (forbidden !== undefined) return { status: 403, message: `Forbidden: not allowed to subscribe to "${forbidden}"` };
  await new ConnectionStore(rt.db, rt.config.connectionTtlSeconds).create(connectionId, identity, channels);
  return { status: 200, message: 'Connected' };
}

export async function closeConnection(rt: Runtime, connectionId: string): Promise<{ existed: boolean; subscriptions: number }> {
  return new ConnectionStore(rt.db, rt.config.connectionTtlSeconds).remove(connectionId);
}
