import type { ChannelPolicy } from './channel-rules';
import { mapWithLimit } from './concurrency';
import type { Config } from './config';
import { deliver } from './delivery';
import type { Poster } from './management-api';
import { ConnectionStore, FRESH_SUBSCRIPTION_MS } from './store/connections';
import { newOpCounts, type Db, type OpCounts } from './store/db';
import { PresenceStore, type Member } from './store/presence';
import type { Log } from './telemetry';
import type { Identity } from './tokens';

export type { Member } from './store/presence';

/**
 * Presence (protocol §8): who is online on the channels whose rule says `presence: true`.
 *
 * The paths that change membership (subscribe, unsubscribe, `$connect` with `?channels=`,
 * `$disconnect`, a 410 clean-up, a ping, a `presence` request) call a `Presence` method, which
 * changes the store (shared/store/presence.ts) and returns the joins and leaves those writes made.
 * The caller sends its own reply first and then `announce`s them: a join or leave frame to each
 * subscriber of the channel through `deliver()` (bounded concurrency; a full buffer retried a few
 * times, then skipped: a slow connection holds up nobody; at most once). The frames carry no seq and
 * are not kept: a client asks `presence` again after a reconnect.
 *
 * A connection whose `$disconnect` never came stops counting `presenceTtlSeconds` after its last
 * subscribe or ping; it is swept (and its user leaves, if it was their last) by the next ping of
 * any connection on the channel or the next `presence` request, or earlier by a 410.
 */
export interface PresenceChange {
  type: 'join' | 'leave';
  channel: string;
  member: Member;
}

export interface PresenceDeps {
  db: Db;
  policy: ChannelPolicy;
  config: Pick<Config, 'presenceTtlSeconds' | 'connectionTtlSeconds' | 'postConcurrency'>;
}

/** What others see of a user: from the token only. */
export function memberOf(identity: Identity): Member {
  return {
    sub: identity.sub,
    ...(identity.role !== undefined && { role: identity.role }),
    ...(identity.name !== undefined && { name: identity.name }),
  };
}

/** Presence work for one request, counting its DynamoDB operations on its own (`ops`). */
export class Presence {
  readonly ops: OpCounts = newOpCounts();
  private readonly db: Db;
  private readonly store: PresenceStore;
  private readonly connections: ConnectionStore;

  constructor(private readonly deps: PresenceDeps) {
    this.db = deps.db.withCounts(this.ops);
    this.store = new PresenceStore(this.db, deps.config);
    this.connections = new ConnectionStore(this.db, deps.config.connectionTtlSeconds);
  }

  /** The channels of the list that have presence. */
  channels(channels: readonly string[]): string[] {
    return channels.filter((c) => this.deps.policy.hasPresence(c));
  }

  /**
   * The connection subscribed to these channels: its user joins where it is their first connection.
   * `recheck`: make sure the subscription still exists afterwards (an unsubscribe or disconnect
   * running at the same time may have removed it before this entry was written) and undo otherwise.
   */
  async joined(
    connectionId: string,
    identity: Identity,
    channels: readonly string[],
    opts: { recheck: boolean },
  ): Promise<PresenceChange[]> {
    const member = memberOf(identity);
    const perChannel = await mapWithLimit(this.channels(channels), 8, async (channel) => {
      const changes: PresenceChange[] = [];
      if (await this.store.add(channel, member, connectionId)) changes.push({ type: 'join', channel, member });
      if (opts.recheck && !(await this.connections.isSubscribed(connectionId, channel))) {
        const left = await this.store.remove(channel, member.sub, connectionId);
        if (left) changes.push({ type: 'leave', channel, member: left });
      }
      return changes;
    });
    return perChannel.flat();
  }

  /** The connection left these channels: its user leaves where it was their last connection. */
  async left(connectionId: string, sub: string, channels: readonly string[]): Promise<PresenceChange[]> {
    const left = await mapWithLimit(this.channels(channels), 8, async (channel) => {
      const member = await this.store.remove(channel, sub, connectionId);
      return member ? [{ type: 'leave' as const, channel, member }] : [];
    });
    return left.flat();
  }

  /** Like `left`, for a connection that is still there (an unsubscribe): its user is read from its record. */
  async connectionLeft(connectionId: string, channels: readonly string[]): Promise<PresenceChange[]> {
    const record = await this.connections.get(connectionId);
    // No record: the connection is being removed, and its removal makes the leaves.
    return record ? this.left(connectionId, record.identity.sub, channels) : [];
  }

  /**
   * A ping: the connection's entries count for another `presenceTtlSeconds` (an entry swept while
   * the connection lived, e.g. after a long freeze, is added again: a join), and its channels are
   * swept of connections whose time has passed (their users' leaves).
   */
  async heartbeat(connectionId: string, identity: Identity, channels: readonly string[]): Promise<PresenceChange[]> {
    const perChannel = await mapWithLimit(this.channels(channels), 8, async (channel) => {
      const changes = (await this.store.refresh(channel, identity.sub, connectionId))
        ? []
        : await this.joined(connectionId, identity, [channel], { recheck: true });
      const { left } = await this.store.snapshot(channel, { sweep: true });
      return [...changes, ...left.map((member) => ({ type: 'leave' as const, channel, member }))];
    });
    return perChannel.flat();
  }

  /**
   * The channel's members and occupancy (connections), at most 1,000 members. `sweep`: expired
   * connections are removed first, and the leaves that makes are returned for announcing.
   */
  async read(
    channel: string,
    sweep: boolean,
  ): Promise<{ members: Member[]; occupancy: number; changes: PresenceChange[] }> {
    const s = await this.store.snapshot(channel, { sweep, consistent: true });
    return {
      members: fitting(s.members),
      occupancy: s.occupancy,
      changes: s.left.map((member) => ({ type: 'leave', channel, member })),
    };
  }
}

/**
 * API Gateway posts at most 128 KB. 1,000 members of usual size take about 60 KB; a list whose
 * members carry very long `sub`s and names is cut (in `sub` order) so the frame still fits.
 */
export const MAX_MEMBERS_BYTES = 120 * 1024;

function fitting(members: Member[]): Member[] {
  let bytes = 0;
  for (let i = 0; i < members.length; i++) {
    bytes += Buffer.byteLength(JSON.stringify(members[i])) + 1;
    if (bytes > MAX_MEMBERS_BYTES) return members.slice(0, i);
  }
  return members;
}

export interface AnnounceReport {
  joins: number;
  leaves: number;
  /** Frames posted (attempts included) and accepted. */
  posts: number;
  delivered: number;
  /** Given up (after retries) or refused. */
  failed: number;
  /** Established connections that answered 410: the caller removes them. */
  gone: string[];
}

/**
 * Delivery of join/leave frames: a full buffer (429) is retried a few times quickly, then the frame is
 * skipped for that connection. Nothing else is retried: a post that timed out or failed with a 5xx
 * may have arrived, and these frames have no id a client could drop a repeat by (at most once).
 */
const ANNOUNCE_DELIVERY = { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 400, retry: ['throttled'] as const };

/**
 * Sends each change, in order, to the channel's subscribers (`exclude`: a connection that must not
 * be posted to, such as one whose `$connect` is still running). DynamoDB reads are counted in `ops`.
 */
export async function announce(
  deps: { db: Db; config: Pick<Config, 'connectionTtlSeconds' | 'postConcurrency'>; poster: Poster },
  changes: readonly PresenceChange[],
  opts: { ops?: OpCounts; exclude?: string } = {},
): Promise<AnnounceReport> {
  const report: AnnounceReport = { joins: 0, leaves: 0, posts: 0, delivered: 0, failed: 0, gone: [] };
  const connections = new ConnectionStore(
    opts.ops ? deps.db.withCounts(opts.ops) : deps.db,
    deps.config.connectionTtlSeconds,
  );
  for (const change of changes) {
    if (change.type === 'join') report.joins++;
    else report.leaves++;
    const data = JSON.stringify({ type: change.type, channel: change.channel, member: change.member });
    const now = deps.db.clock.now();
    const targets: { connectionId: string; data: string }[] = [];
    const fresh = new Set<string>();
    for await (const page of connections.subscriberPages(change.channel)) {
      for (const { connectionId, at } of page) {
        if (connectionId === opts.exclude) continue;
        targets.push({ connectionId, data });
        // Subscribed during its `$connect` moments ago: a 410 may only mean "not established yet".
        if (now - at < FRESH_SUBSCRIPTION_MS) fresh.add(connectionId);
      }
    }
    if (targets.length === 0) continue;
    const r = await deliver(limited(deps.poster, deps.config.postConcurrency), targets, {
      concurrency: deps.config.postConcurrency,
      ...ANNOUNCE_DELIVERY,
    });
    report.posts += r.posts;
    report.delivered += r.delivered;
    report.failed += r.failed.length;
    for (const id of r.gone) if (!fresh.has(id) && !report.gone.includes(id)) report.gone.push(id);
  }
  return report;
}

/**
 * Presence posts in flight in this process, across announces. A Lambda container runs one invocation
 * at a time, so on AWS this is just `deliver()`'s own bound; the local runtime runs every invocation
 * in one process over one pool of sockets, where a post waiting for a free socket would time out
 * unsent (the post timeout counts from the request) and, not being retried, be lost.
 */
let inFlight = 0;
const waiting: (() => void)[] = [];

function limited(poster: Poster, limit: number): Poster {
  return {
    async post(connectionId, data) {
      while (inFlight >= limit) await new Promise<void>((r) => waiting.push(r));
      inFlight++;
      try {
        await poster.post(connectionId, data);
      } finally {
        inFlight--;
        waiting.shift()?.();
      }
    },
  };
}

/** Logs one presence step with its operation counts (for the cost per join/leave). */
export function logPresence(log: Log, what: string, ops: OpCounts, report?: AnnounceReport): void {
  log.info('presence', {
    what,
    ops,
    ...(report && {
      joins: report.joins,
      leaves: report.leaves,
      posts: report.posts,
      delivered: report.delivered,
      failed: report.failed,
      gone: report.gone.length,
    }),
  });
}
