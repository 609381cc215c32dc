import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { randomUUID } from 'node:crypto';
import type { ChannelPolicy } from '../../shared/channel-rules';
import type { Identity } from '../../shared/tokens';

/**
 * The demo booking backend (local mode only): stores bookings in DynamoDB Local and publishes
 * create / update / delete events to SNS exactly as a PHP backend would, to
 * `specialist_<id>`, `workpoint_<id>` and `admin`.
 */
export interface Booking {
  id: string;
  specialistId: string;
  workpointId: string;
  customer: string;
  time: string;
  updatedAt: number;
}

/** The demo's specialists and where they work. */
export const SPECIALISTS: Record<string, { name: string; workpointId: string }> = {
  '1': { name: 'Dr. Ana Ribeiro', workpointId: '5' },
  '2': { name: 'Dr. Ben Okafor', workpointId: '5' },
  '3': { name: 'Dr. Chen Wei', workpointId: '6' },
};

export class DemoError extends Error {
  constructor(
    readonly status: 400 | 403 | 404,
    message: string,
  ) {
    super(message);
  }
}

export interface BookingDeps {
  doc: DynamoDBDocumentClient;
  tableName: string;
  sns: SNSClient;
  topicArn: string;
  policy: ChannelPolicy;
  now?: () => number;
}

const PK = 'DEMO#bookings';

export function bookingChannels(b: Pick<Booking, 'specialistId' | 'workpointId'>): string[] {
  return [`specialist_${b.specialistId}`, `workpoint_${b.workpointId}`, 'admin'];
}

/** A booking is visible to whoever may hear one of its channels. */
export function canSee(policy: ChannelPolicy, who: Identity, b: Booking): boolean {
  return bookingChannels(b).some((c) => policy.canSubscribe(who, c));
}

export class BookingService {
  constructor(private readonly deps: BookingDeps) {}

  async list(who: Identity): Promise<Booking[]> {
    const items: Booking[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const r = await this.deps.doc.send(
        new QueryCommand({
          TableName: this.deps.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': PK },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of r.Items ?? []) items.push(item.booking as Booking);
      startKey = r.LastEvaluatedKey;
    } while (startKey);
    return items.filter((b) => canSee(this.deps.policy, who, b)).sort((a, b) => a.time.localeCompare(b.time));
  }

  async create(who: Identity, input: { specialistId?: unknown; customer?: unknown; time?: unknown }): Promise<Booking> {
    const specialistId = who.role === 'specialist' ? who.specialistId : scalarText(input.specialistId ?? '1');
    const specialist = specialistId ? SPECIALISTS[specialistId] : undefined;
    if (!specialistId || !specialist) throw new DemoError(400, `unknown specialist "${String(specialistId)}"`);
    const booking: Booking = {
      id: randomUUID().slice(0, 8),
      specialistId,
      workpointId: specialist.workpointId,
      customer: text(input.customer, 'customer'),
      time: text(input.time, 'time'),
      updatedAt: this.now(),
    };
    if (!canSee(this.deps.policy, who, booking)) throw new DemoError(403, 'you may not book for that specialist');
    await this.save(booking);
    await this.publish('create', booking);
    return booking;
  }

  async update(who: Identity, id: string, input: { customer?: unknown; time?: unknown }): Promise<Booking> {
    const current = await this.get(who, id);
    const booking: Booking = {
      ...current,
      customer: input.customer === undefined ? current.customer : text(input.customer, 'customer'),
      time: input.time === undefined ? current.time : text(input.time, 'time'),
      updatedAt: this.now(),
    };
    await this.save(booking);
    await this.publish('update', booking);
    return booking;
  }

  async remove(who: Identity, id: string): Promise<Booking> {
    const current = await this.get(who, id);
    await this.deps.doc.send(new DeleteCommand({ TableName: this.deps.tableName, Key: { pk: PK, sk: id } }));
    await this.publish('delete', current);
    return current;
  }

  private async get(who: Identity, id: string): Promise<Booking> {
    const r = await this.deps.doc.send(new GetCommand({ TableName: this.deps.tableName, Key: { pk: PK, sk: id } }));
    const booking = r.Item?.booking as Booking | undefined;
    if (!booking || !canSee(this.deps.policy, who, booking)) throw new DemoError(404, `no booking "${id}"`);
    return booking;
  }

  private async save(booking: Booking): Promise<void> {
    await this.deps.doc.send(
      new PutCommand({ TableName: this.deps.tableName, Item: { pk: PK, sk: booking.id, booking } }),
    );
  }

  /** What a PHP backend does: one SNS publish per change, with an idempotency id. */
  private async publish(event: 'create' | 'update' | 'delete', booking: Booking): Promise<void> {
    await this.deps.sns.send(
      new PublishCommand({
        TopicArn: this.deps.topicArn,
        Message: JSON.stringify({
          channels: bookingChannels(booking),
          event,
          data: booking,
          id: `booking-${booking.id}-${event}-${booking.updatedAt}`,
        }),
      }),
    );
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

function text(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > 200)
    throw new DemoError(400, `${field} must be a non-empty string of at most 200 characters`);
  return v.trim();
}

/** A JSON scalar as text; anything else (an object, an array) as '' so it fails the lookup that follows. */
export function scalarText(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}
