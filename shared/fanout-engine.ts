import type { Config } from './config';
import { deliver, type Delivery, type DeliveryReport } from './delivery';
import type { Poster } from './management-api';
import type { PublishedEvent } from './publish-message';
import { ChannelStore } from './store/channels';
import { ConnectionStore } from './store/connections';
import { newOpCounts, type Db, type OpCounts } from './store/db';
import { IdempotencyStore } from './store/idempotency';
import { addStats } from './store/stats';
import { errorDetails, type Log } from './telemetry';
import { mapSettledWithLimit } from './concurrency';

/**
 * The fan-out engine, in three steps callable on their own (design.md "Scale path"):
 * - record: bump each channel's seq and append the event to each channel's history;
 * - resolve: query each channel's subscribers page by page and merge them, so each connection gets
 *   ONE frame whose `seqs` names all its matching channels (in the event's channel order);
 * - deliver: post the frames with bounded concurrency (delivery.ts).
 * `publish` runs them for one message, after dropping a duplicate `id`, and cleans up connections
 * that answered 410 Gone.
 */
export interface Recorded {
  ts: number;
  /** New seq per channel, in the event's channel order. */
  seqs: Record<string, number>;
}

export async function record(db: Db, retention: Pick<Config, 'retainEvents' | 'retainSeconds'>, event: PublishedEvent): Promise<Recorded> {
  const channels = new ChannelStore(db, retention);
  const ts = db.clock.now();
  const bumped = await Promise.all(
    event.channels.map(async (channel) => {
      const seq = await channels.bump(channel, ts);
      if (retention.retainEvents > 0) await channels.append(channel, { id: event.id, event: event.event, data: event.data, ts, seq });
      return [channel, seq] as const;
    }),
  );
  const newChannels = bumped.filter(([, seq]) => seq === 1).length;
  if (newChannels > 0) await addStats(db, { channels: newChannels });
  return { ts, seqs: Object.fromEntries(bumped) };
}

/** Connection id → the seqs of the event's channels it is subscribed to (insertion = channel order). */
export async function resolve(db: Db, seqs: Record<string, number>, ttlSeconds: number): Promise<Map<string, Record<string, number>>> {
  const connections = new ConnectionStore(db, ttlSeconds);
  const channelOrder = Object.keys(seqs);
  const perChannel = await Promise.all(
    channelOrder.map(async (channel) => {
      const ids: string[] = [];
      for await (const page of connections.subscriberPages(channel)) ids.push(...page);
      return ids;
    }),
  );
  const targets = new Map<string, Record<string, number>>();
  channelOrder.forEach((channel, i) => {
    for (const connectionId of perChannel[i] ?? []) {
      let s = targets.get(connectionId);
      if (!s) targets.set(connectionId, (s = {}));
      s[channel] = seqs[channel] as number;
    }
  });
  return targets;
}

/** Serializes the event body once; each connection's frame only adds its `channel` and `seqs`. */
export function eventFrames(event: PublishedEvent, ts: number, targets: Map<string, Record<string, number>>): Delivery[] {
  const head = JSON.stringify({ type: 'event', id: event.id, event: event.event, data: event.data, ts }).slice(0, -1);
  const out: Delivery[] = [];
  for (const [connectionId, seqs] of targets) {
    const channel = Object.keys(seqs)[0] as string;
    out.push({ connectionId, data: `${head},"channel":${JSON.stringify(channel)},"seqs":${JSON.stringify(seqs)}}` });
  }
  return out;
}

export interface PublishDeps {
  db: Db;
  config: Pick<Config, 'retainEvents' | 'retainSeconds' | 'idempotencySeconds' | 'postConcurrency' | 'connectionTtlSeconds'>;
  poster: Poster;
  log: Log;
  /** Delivery tuning for tests (sleep, random). */
  deliveryOverrides?: { sleep?: (ms: number) => Promise<void>; random?: () => number; maxAttempts?: number };
}

export type PublishReport =
  | { duplicate: true; id: string; ops: OpCounts }
  | { duplicate: false; id: string; seqs: Record<string, number>; connections: number; delivery: DeliveryReport; cleaned: number; ops: OpCounts };

export async function publish(deps: PublishDeps, event: PublishedEvent): Promise<PublishReport> {
  const ops = newOpCounts();
  const db = deps.db.withCounts(ops);
  const idempotency = new IdempotencyStore(db, deps.config.idempotencySeconds);
  if (!(await idempotency.claim(event.id))) return { duplicate: true, id: event.id, ops };

  let recorded: Recorded;
  let targets: Map<string, Record<string, number>>;
  try {
    recorded = await record(db, deps.config, event);
    targets = await resolve(db, recorded.seqs, deps.config.connectionTtlSeconds);
  } catch (err) {
    // Nothing was delivered yet: give the id back so the SNS/Lambda retry can publish it.
    await idempotency.release(event.id).catch((releaseErr: unknown) => deps.log.error('could not release idempotency key', { id: event.id, ...errorDetails(releaseErr) }));
    throw err;
  }

  const delivery = await deliver(deps.poster, eventFrames(event, recorded.ts, targets), { concurrency: deps.config.postConcurrency, ...deps.deliveryOverrides });
  const cleaned = await removeGone(db, deps, delivery.gone);
  await addStats(db, { published: 1, delivered: delivery.delivered }).catch((err: unknown) => deps.log.warn('could not update stats', errorDetails(err)));
  return { duplicate: false, id: event.id, seqs: recorded.seqs, connections: targets.size, delivery, cleaned, ops };
}

/** Deletes connections that answered 410 Gone, with all their subscriptions. */
export async function removeGone(db: Db, deps: Pick<PublishDeps, 'config' | 'log'>, gone: readonly string[]): Promise<number> {
  const connections = new ConnectionStore(db, deps.config.connectionTtlSeconds);
  const results = await mapSettledWithLimit(gone, 8, (id) => connections.remove(id));
  results.forEach((r, i) => {
    if (r.status === 'rejected') deps.log.warn('could not remove gone connection', { connectionId: gone[i], ...errorDetails(r.reason) });
  });
  return results.filter((r) => r.status === 'fulfilled').length;
}
