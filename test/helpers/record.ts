import type { Config } from '../../shared/config';
import type { PublishedEvent } from '../../shared/publish-message';
import type { Db } from '../../shared/store/db';
import { EventLog } from '../../shared/store/event-log';
import { addStats } from '../../shared/store/stats';

/** Records one event as the sequencer does (snapshot, next seqs, one transaction); returns its seqs. */
export async function record(
  db: Db,
  config: Pick<Config, 'retainEvents' | 'retainSeconds' | 'idempotencySeconds'>,
  event: PublishedEvent,
): Promise<{ ts: number; seqs: Record<string, number> }> {
  const log = new EventLog(db, config);
  const snap = await log.snapshot([event.id], event.channels);
  const ts = db.clock.now();
  const seqs = Object.fromEntries(event.channels.map((c) => [c, (snap.seqs.get(c) ?? 0) + 1]));
  await log.commit(
    [{ id: event.id, by: `test-${event.id}`, event: event.event, data: event.data, ts, seqs }],
    snap.seqs,
  );
  const newChannels = Object.values(seqs).filter((s) => s === 1).length;
  if (newChannels > 0) await addStats(db, { channels: newChannels });
  return { ts, seqs };
}
