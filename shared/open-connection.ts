import { parseChannelList } from './channel-rules';
import { presenceStep } from './connections-lifecycle';
import { TokenError } from './errors';
import type { Poster } from './management-api';
import { Presence } from './presence';
import type { Runtime } from './runtime';
import { ConnectionStore } from './store/connections';
import { verifierFor } from './tokens';
import { CHANNEL_NAME_PATTERN } from './wire';

/**
 * `$connect` (protocol §3): verify the token, check and record the channels named in `?channels=`.
 * Presence (§8): the channels of the handshake join like subscribes. `$disconnect` is
 * shared/connections-lifecycle.ts; this is apart so that only connect's bundle holds the token
 * verifier (docs/performance.md, "Bundles").
 */
export interface ConnectOutcome {
  status: 200 | 400 | 401 | 403;
  message: string;
}

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
