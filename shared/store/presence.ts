import { GetCommand, UpdateCommand, type UpdateCommandOutput } from '@aws-sdk/lib-dynamodb';
import { mapWithLimit } from '../concurrency';
import { isConditionalCheckFailed, type Db } from './db';
import type { Member } from '../wire';
import { keys } from './keys';

/**
 * Presence membership (protocol §8): one item per channel and user,
 * `P#<channel>` / `<sub>`, holding
 * - `conns`: the set of the user's connections subscribed to the channel (a DynamoDB string set),
 * - `x#<connectionId>`: until when (epoch ms) that connection counts as there, pushed forward by its
 *   subscribe and every ping,
 * - `member`: what others see (`sub`, `role`, `name` from the token),
 * - `ttl`: so DynamoDB deletes an item nobody touched for a connection lifetime.
 *
 * Every change is ONE conditional UpdateItem of that item, so DynamoDB orders the changes of a user
 * on a channel: the write that finds `conns` absent and adds to it is the user's join, the write that
 * removes the last connection is the leave. However many subscribes, unsubscribes, disconnects,
 * 410 clean-ups and sweeps run at once, each transition is made (and reported) by exactly one write;
 * set operations make repeats no-ops (a connection added twice is one entry, one removed twice
 * leaves once). The stored set is the truth: an entry past its `x#` time still counts until a sweep
 * removes it (with the leave, when it was the user's last), so readers and join/leave frames never
 * disagree.
 */
export type { Member };

/** A user's entry as read: connections with the time each counts until. */
export interface MemberEntry {
  member: Member;
  /** Connection id → until (epoch ms). */
  conns: Map<string, number>;
}

/** At most this many members in a list (protocol §8). */
export const MAX_MEMBERS = 1000;
/** A sweep whose condition failed (the entry changed meanwhile) reads the item again, at most this often. */
const SWEEP_ATTEMPTS = 3;

const expiryName = (connectionId: string) => `x#${connectionId}`;

export class PresenceStore {
  constructor(
    private readonly db: Db,
    private readonly opts: { presenceTtlSeconds: number; connectionTtlSeconds: number },
  ) {}

  private until(): number {
    return this.db.clock.now() + this.opts.presenceTtlSeconds * 1000;
  }

  private itemTtl(): number {
    return this.db.nowSeconds() + this.opts.connectionTtlSeconds;
  }

  /** Adds a connection to the user's entry (or pushes its time forward); true when it is the user's first: a join. */
  async add(channel: string, member: Member, connectionId: string): Promise<boolean> {
    const r = await this.update({
      Key: keys.presence(channel, member.sub),
      UpdateExpression: 'ADD conns :c SET #x = :until, #member = :member, #ttl = :ttl',
      ExpressionAttributeNames: { '#x': expiryName(connectionId), '#member': 'member', '#ttl': 'ttl' },
      ExpressionAttributeValues: {
        ':c': new Set([connectionId]),
        ':until': this.until(),
        ':member': member,
        ':ttl': this.itemTtl(),
      },
      ReturnValues: 'UPDATED_OLD',
    });
    return r?.Attributes?.conns === undefined;
  }

  /** Removes a connection from the user's entry; the member when that was the user's last: a leave. */
  async remove(channel: string, sub: string, connectionId: string): Promise<Member | undefined> {
    const r = await this.update({
      Key: keys.presence(channel, sub),
      UpdateExpression: 'DELETE conns :c REMOVE #x',
      ConditionExpression: 'contains(conns, :id)',
      ExpressionAttributeNames: { '#x': expiryName(connectionId) },
      ExpressionAttributeValues: { ':c': new Set([connectionId]), ':id': connectionId },
      ReturnValues: 'ALL_NEW',
    });
    return r && r.Attributes?.conns === undefined ? (r.Attributes?.member as Member) : undefined;
  }

  /** Pushes a connection's time forward (its ping); false when it has no entry (swept, or never added). */
  async refresh(channel: string, sub: string, connectionId: string): Promise<boolean> {
    const r = await this.update({
      Key: keys.presence(channel, sub),
      UpdateExpression: 'SET #x = :until, #ttl = :ttl',
      ConditionExpression: 'contains(conns, :id)',
      ExpressionAttributeNames: { '#x': expiryName(connectionId), '#ttl': 'ttl' },
      ExpressionAttributeValues: { ':until': this.until(), ':ttl': this.itemTtl(), ':id': connectionId },
    });
    return r !== undefined;
  }

  /** The users with at least one connection on the channel, in `sub` order, at most `limit`. */
  async entries(channel: string, opts: { limit?: number; consistent?: boolean } = {}): Promise<MemberEntry[]> {
    const limit = opts.limit ?? MAX_MEMBERS;
    const out: MemberEntry[] = [];
    for await (const page of this.db.queryPages({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.presencePk(channel) },
      ConsistentRead: opts.consistent,
    })) {
      for (const item of page.Items ?? []) {
        const entry = parseEntry(item);
        if (entry) out.push(entry);
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  /**
   * Removes the connections of an entry whose time has passed, only if their times are still the
   * ones read (a ping meanwhile keeps its connection). Returns the entry as it is now (undefined
   * when no connection is left) and the member when this sweep removed the user's last: a leave.
   */
  async sweep(channel: string, entry: MemberEntry, now: number): Promise<{ entry?: MemberEntry; left?: Member }> {
    let current: MemberEntry | undefined = entry;
    for (let attempt = 0; current && attempt < SWEEP_ATTEMPTS; attempt++) {
      const expired = [...current.conns].filter(([, until]) => until < now);
      if (expired.length === 0) return { entry: current };
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = { ':gone': new Set(expired.map(([id]) => id)) };
      const conditions: string[] = [];
      expired.forEach(([id, until], i) => {
        names[`#x${i}`] = expiryName(id);
        if (until > 0) {
          values[`:u${i}`] = until;
          conditions.push(`#x${i} = :u${i}`);
        } else {
          values[`:c${i}`] = id;
          conditions.push(`(attribute_not_exists(#x${i}) AND contains(conns, :c${i}))`);
        }
      });
      const r = await this.update({
        Key: keys.presence(channel, current.member.sub),
        UpdateExpression: `DELETE conns :gone REMOVE ${Object.keys(names).join(', ')}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      });
      if (r) {
        const after = parseEntry(r.Attributes ?? {});
        return after ? { entry: after } : { left: r.Attributes?.member as Member };
      }
      current = await this.get(channel, current.member.sub); // changed meanwhile: look again
    }
    return { entry: current };
  }

  /**
   * The channel's members as they are now: expired connections are swept first (each user whose
   * last one that was is returned in `left`, for the leave frames), so the list never shows a user
   * who has left without a leave having been made. `sweep: false` only leaves them out (a reader that
   * cannot send leave frames, such as `GET /presence`).
   */
  async snapshot(
    channel: string,
    opts: { sweep: boolean; consistent?: boolean },
  ): Promise<{ members: Member[]; occupancy: number; left: Member[] }> {
    const now = this.db.clock.now();
    const read = await this.entries(channel, { consistent: opts.consistent });
    const left: Member[] = [];
    const live = await mapWithLimit(read, 8, async (e) => {
      if (!opts.sweep) return liveOnly(e, now);
      const swept = await this.sweep(channel, e, now);
      if (swept.left) left.push(swept.left);
      return swept.entry && liveOnly(swept.entry, now);
    });
    const present = live.filter((e): e is MemberEntry => e !== undefined);
    return { members: present.map((e) => e.member), occupancy: present.reduce((n, e) => n + e.conns.size, 0), left };
  }

  private async get(channel: string, sub: string): Promise<MemberEntry | undefined> {
    const r = await this.db.doc.send(
      new GetCommand({
        TableName: this.db.tableName,
        Key: keys.presence(channel, sub),
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.db.count('getRequests', r.ConsumedCapacity);
    return r.Item ? parseEntry(r.Item) : undefined;
  }

  /** One UpdateItem, counted; undefined when its condition failed. */
  private async update(
    input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName' | 'ReturnConsumedCapacity'>,
  ): Promise<UpdateCommandOutput | undefined> {
    try {
      const r = await this.db.doc.send(
        new UpdateCommand({ ...input, TableName: this.db.tableName, ReturnConsumedCapacity: 'TOTAL' }),
      );
      this.db.count('updateRequests', r.ConsumedCapacity);
      return r;
    } catch (err) {
      this.db.count('updateRequests');
      if (isConditionalCheckFailed(err)) return undefined;
      throw err;
    }
  }
}

function parseEntry(item: Record<string, unknown>): MemberEntry | undefined {
  const ids = item.conns instanceof Set ? [...(item.conns as Set<string>)] : [];
  if (ids.length === 0 || typeof item.member !== 'object' || item.member === null) return undefined;
  // A connection without its time (never written so, but) counts as expired: a sweep removes it.
  return { member: item.member as Member, conns: new Map(ids.map((id) => [id, Number(item[expiryName(id)] ?? 0)])) };
}

/** The entry with only the connections whose time has not passed; undefined when none is left. */
function liveOnly(e: MemberEntry, now: number): MemberEntry | undefined {
  const conns = new Map([...e.conns].filter(([, until]) => until >= now));
  return conns.size > 0 ? { member: e.member, conns } : undefined;
}
