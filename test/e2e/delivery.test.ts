import { PIPELINE } from '../../shared/pipeline';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { RuntimeEvent } from '../../local/runtime';
import { runtimeForFile } from '../helpers/e2e';
import { signToken, type TokenClaims } from '../helpers/runtime';
import { TestClient, uniqueId, type Frame } from './support/ws-client';

/**
 * End to end through `npm start`'s runtime: SNS publish → fauxqs → SQS → fanout handler →
 * @connections → WebSocket. One runtime for the file (retention 5 events, fanout retries at once);
 * tests keep apart by channel names.
 */
jest.setTimeout(60_000);

const clients: TestClient[] = [];

const e2e = runtimeForFile({ SWITCHBOARD_RETAIN_EVENTS: '5' });

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await e2e.rt.settle();
});

async function connect(claims: TokenClaims, opts: { channels?: string } = {}): Promise<TestClient> {
  const c = await TestClient.connect(e2e.rt.endpoints.websocketUrl, await signToken(claims), opts);
  clients.push(c);
  return c;
}

type FanoutEvent = Extract<RuntimeEvent, { type: 'fanout' }>;
const fanout = (messageId: string, outcome: FanoutEvent['outcome'] = 'ok', attempt?: number) =>
  e2e.rt.waitForEvent<FanoutEvent>(
    (e) =>
      e.type === 'fanout' &&
      e.messageId === messageId &&
      e.outcome === outcome &&
      (attempt === undefined || e.attempt === attempt),
    15_000,
    `fanout ${outcome} of ${messageId}`,
  );

/** Resolves when the sequencer has recorded the event (seqs, history) and handed it to the lanes. */
const sequenced = (id: string) =>
  e2e.rt.waitForEvent((e) => e.type === 'sequenced' && e.ids.includes(id), 15_000, `sequencing of ${id}`);

describe('channel rules, end to end', () => {
  test('a specialist hears only their channel, a supervisor their workpoint, an admin all; one frame per connection', async () => {
    const sp = uniqueId();
    const wp = uniqueId();
    const specialistCh = `specialist_${sp}`;
    const workpointCh = `workpoint_${wp}`;
    const specialist = await connect({ sub: 'spec', role: 'specialist', specialist_id: sp, workpoint_id: wp });
    const supervisor = await connect({ sub: 'sup', role: 'supervisor', workpoint_id: wp });
    const admin = await connect({ sub: 'adm', role: 'admin' });

    expect(await specialist.subscribe(specialistCh)).toMatchObject({
      type: 'subscribed',
      channel: specialistCh,
      seq: 0,
    });
    for (const ch of [`specialist_${sp + 1}`, workpointCh, 'admin'])
      expect(await specialist.subscribe(ch)).toMatchObject({ type: 'error', code: 'forbidden' });
    expect(await supervisor.subscribe(workpointCh)).toMatchObject({ type: 'subscribed', channel: workpointCh, seq: 0 });
    for (const ch of [`workpoint_${wp + 1}`, specialistCh, 'admin'])
      expect(await supervisor.subscribe(ch)).toMatchObject({ type: 'error', code: 'forbidden' });
    for (const ch of [specialistCh, workpointCh, 'admin'])
      expect(await admin.subscribe(ch)).toMatchObject({ type: 'subscribed', channel: ch });

    const all = await e2e.pub.publish([specialistCh, workpointCh, 'admin'], 'create', { booking_id: 9 });
    const onlyWorkpoint = await e2e.pub.publish([workpointCh], 'update', { booking_id: 9 });
    const onlySpecialist = await e2e.pub.publish([specialistCh], 'delete', { booking_id: 9 });

    const s1 = await specialist.nextEvent();
    expect(s1).toMatchObject({
      type: 'event',
      id: all.id,
      event: 'create',
      data: { booking_id: 9 },
      channel: specialistCh,
      seqs: { [specialistCh]: 1 },
    });
    expect(typeof s1.ts).toBe('number');
    // The workpoint-only event never reaches the specialist: the next one it gets is the later event.
    expect(await specialist.nextEvent()).toMatchObject({ id: onlySpecialist.id, seqs: { [specialistCh]: 2 } });

    expect(await supervisor.nextEvent()).toMatchObject({
      id: all.id,
      channel: workpointCh,
      seqs: { [workpointCh]: 1 },
    });
    expect(await supervisor.nextEvent()).toMatchObject({ id: onlyWorkpoint.id, seqs: { [workpointCh]: 2 } });

    // The admin is subscribed to all three channels and gets ONE frame naming each channel's seq.
    const a1 = await admin.nextEvent();
    expect(a1).toMatchObject({ id: all.id, channel: specialistCh });
    expect(Object.keys(a1.seqs as object)).toEqual([specialistCh, workpointCh, 'admin']);
    expect(a1.seqs).toMatchObject({ [specialistCh]: 1, [workpointCh]: 1 });
    // The other two are on different channels: each is in its channel's seq order, but the contract
    // promises no order between channels (two fan-outs may hand them to the sequencer either way).
    const rest = [await admin.nextEvent(), await admin.nextEvent()];
    expect(rest).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: onlyWorkpoint.id, seqs: { [workpointCh]: 2 } }),
        expect.objectContaining({ id: onlySpecialist.id, seqs: { [specialistCh]: 2 } }),
      ]),
    );
    await Promise.all([sequenced(onlyWorkpoint.id), sequenced(onlySpecialist.id)]);
    expect(admin.unclaimed().filter((f) => f.type === 'event')).toEqual([]);
  });

  test('channels given at connect (?channels=) are subscribed without subscribed frames', async () => {
    const sp = uniqueId();
    const ch = `specialist_${sp}`;
    const c = await connect({ sub: 's', role: 'specialist', specialist_id: sp }, { channels: ch });
    const e = await e2e.pub.publish([ch], 'create', { n: 1 });
    expect(await c.next()).toMatchObject({ type: 'event', id: e.id, seqs: { [ch]: 1 } });
  });
});

describe('order, replay and reset', () => {
  test('per channel, seq rises by 1 and events arrive in seq order', async () => {
    const ch = `public_seq_${uniqueId()}`;
    const c = await connect({ sub: 'u' });
    await c.subscribe(ch);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await e2e.pub.publish([ch], 'tick', { i })).id);
    const got: Frame[] = [];
    for (let i = 0; i < 8; i++) got.push(await c.nextEvent());
    // Seq order is the order the sequencer took them in; separate publishes keep their publish order
    // only as far as SNS standard topics keep it (best effort, docs/protocol.md).
    expect([...got.map((f) => f.id)].sort()).toEqual([...ids].sort());
    expect(got.map((f) => (f.seqs as Record<string, number>)[ch])).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('a reconnecting client replays with since; history too short or since ahead of the channel gives reset', async () => {
    const ch = `public_replay_${uniqueId()}`;
    const first = await connect({ sub: 'u' });
    await first.subscribe(ch);
    const ids: string[] = [];
    for (let i = 1; i <= 3; i++) ids.push((await e2e.pub.publish([ch], 'e', { i })).id);
    for (let i = 1; i <= 3; i++) expect(await first.nextEvent()).toMatchObject({ seqs: { [ch]: i } });
    await first.close();

    // Published while nobody listens.
    for (let i = 4; i <= 5; i++) {
      const e = await e2e.pub.publish([ch], 'e', { i });
      ids.push(e.id);
      await sequenced(e.id);
    }
    const again = await connect({ sub: 'u' });
    expect(await again.subscribe(ch, 3)).toMatchObject({ type: 'subscribed', channel: ch, seq: 5 });
    const replayed = [await again.nextEvent(), await again.nextEvent()];
    expect(replayed.map((f) => f.id)).toEqual(ids.slice(3, 5));
    expect(replayed.map((f) => f.seqs)).toEqual([{ [ch]: 4 }, { [ch]: 5 }]);
    expect(replayed[0]).toMatchObject({ type: 'event', event: 'e', data: { i: 4 }, channel: ch });

    // Retention is 5 events: after 8, history holds seqs 4..8.
    for (let i = 6; i <= 8; i++) await sequenced((await e2e.pub.publish([ch], 'e', { i })).id);
    const late = await connect({ sub: 'u' });
    expect(await late.subscribe(ch, 2)).toMatchObject({ type: 'subscribed', seq: 8 });
    expect(await late.next((f) => f.type === 'reset' || f.type === 'event')).toEqual({
      type: 'reset',
      channel: ch,
      seq: 8,
    });

    const covered = await connect({ sub: 'u' });
    expect(await covered.subscribe(ch, 3)).toMatchObject({ type: 'subscribed', seq: 8 });
    const five: Frame[] = [];
    for (let i = 0; i < 5; i++) five.push(await covered.nextEvent());
    expect(five.map((f) => (f.seqs as Record<string, number>)[ch])).toEqual([4, 5, 6, 7, 8]);

    const ahead = await connect({ sub: 'u' });
    expect(await ahead.subscribe(ch, 9)).toMatchObject({ type: 'subscribed', seq: 8 });
    expect(await ahead.next((f) => f.type === 'reset' || f.type === 'event')).toEqual({
      type: 'reset',
      channel: ch,
      seq: 8,
    });
  });
});

describe('publishing', () => {
  test('the same id published twice is delivered once', async () => {
    const ch = `public_dup_${uniqueId()}`;
    const c = await connect({ sub: 'u' });
    await c.subscribe(ch);
    const id = `booking-${uniqueId()}`;
    const a = await e2e.pub.publish([ch], 'create', { v: 1 }, id);
    const b = await e2e.pub.publish([ch], 'create', { v: 1 }, id);
    const sentinel = await e2e.pub.publish([ch], 'sentinel', null);
    expect(await c.nextEvent()).toMatchObject({ id, seqs: { [ch]: 1 } });
    expect(await c.nextEvent()).toMatchObject({ id: sentinel.id, seqs: { [ch]: 2 } });
    // Both SNS messages were handled successfully (the second as a duplicate), none retried.
    await fanout(a.messageId, 'ok', 1);
    await fanout(b.messageId, 'ok', 1);
  });

  test('invalid SNS messages are rejected without blocking or retrying; valid ones still go through', async () => {
    const ch = `public_inv_${uniqueId()}`;
    const c = await connect({ sub: 'u' });
    await c.subscribe(ch);
    const bad = [
      await e2e.pub.raw('not json'),
      await e2e.pub.raw(JSON.stringify({ channels: ['bad name!'], event: 'x' })),
      await e2e.pub.raw(JSON.stringify({ channels: [], event: 'x' })),
      await e2e.pub.raw(JSON.stringify({ channels: [ch], event: '' })),
      await e2e.pub.raw(JSON.stringify({ channels: [ch], event: 'big', data: 'x'.repeat(33 * 1024) })),
    ];
    const good = await e2e.pub.publish([ch], 'ok', { fine: true });
    expect(await c.nextEvent()).toMatchObject({ id: good.id, seqs: { [ch]: 1 } });
    for (const messageId of bad) await fanout(messageId, 'ok', 1);
    expect(e2e.rt.events.filter((e) => e.type === 'fanout' && bad.includes(e.messageId) && e.outcome !== 'ok')).toEqual(
      [],
    );
  });

  test('a failing fanout invocation is retried, and delivered when a retry succeeds', async () => {
    const ch = `public_retry_${uniqueId()}`;
    const c = await connect({ sub: 'u' });
    await c.subscribe(ch);
    await e2e.rt.failFanout(2);
    const e = await e2e.pub.publish([ch], 'retry', { n: 1 });
    expect(await c.nextEvent()).toMatchObject({ id: e.id, seqs: { [ch]: 1 } });
    await fanout(e.messageId, 'failed', 1);
    await fanout(e.messageId, 'failed', 2);
    await fanout(e.messageId, 'ok', 3);
  });

  test('after maxReceiveCount failed attempts the message is parked in the dead-letter queue, not dropped', async () => {
    const ch = `public_dlq_${uniqueId()}`;
    const c = await connect({ sub: 'u' });
    await c.subscribe(ch);
    const attempts = PIPELINE.ingest.maxReceiveCount;
    await e2e.rt.failFanout(attempts);
    const lost = await e2e.pub.publish([ch], 'lost', { n: 1 });
    await fanout(lost.messageId, 'parked', attempts);

    const sqs = new SQSClient({
      endpoint: e2e.rt.endpoints.snsEndpoint,
      region: e2e.rt.endpoints.region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    try {
      const r = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: e2e.rt.dlqUrl, WaitTimeSeconds: 10, MaxNumberOfMessages: 10 }),
      );
      const parked = (r.Messages ?? []).map(
        (m) => JSON.parse(m.Body ?? '{}') as { MessageId?: string; Message?: string },
      );
      expect(parked.map((p) => p.MessageId)).toContain(lost.messageId);
      expect(JSON.parse(parked.find((p) => p.MessageId === lost.messageId)?.Message ?? '{}')).toMatchObject({
        channels: [ch],
        event: 'lost',
      });
    } finally {
      sqs.destroy();
    }
    // The queue keeps flowing, and the parked event was never delivered.
    const next = await e2e.pub.publish([ch], 'after', null);
    expect(await c.nextEvent()).toMatchObject({ id: next.id, seqs: { [ch]: 1 } });
  });
});
