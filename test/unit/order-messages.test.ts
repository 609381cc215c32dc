import { orderMessageBody, packOrderMessages } from '../../shared/ingest';
import type { SqsRecord } from '../../shared/lambda-events';
import type { PublishedEvent } from '../../shared/publish-message';
import { parseOrderBody } from '../../shared/sequencer-batch';

/** Order-queue messages: fanout packs a batch's events, the sequencer unpacks them (shared/ingest.ts). */
const record = (n: number) => ({ messageId: `m${n}` }) as SqsRecord;
const ev = (id: string, data: unknown = null): PublishedEvent => ({ id, channels: ['c_1'], event: 'e', data });
const valid = (ids: string[], data?: unknown) => ids.map((id, n) => ({ record: record(n), event: ev(id, data) }));
const ids = (m: { events: PublishedEvent[] }) => m.events.map((e) => e.id);

test('a batch becomes as few messages as the limits allow, in order, each body unpacking to its events', () => {
  const packed = packOrderMessages(valid(['a', 'b', 'c', 'd', 'e']), { maxEvents: 2, maxBytes: 1 << 20 });
  expect(packed.map(ids)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  expect(packed.map((m) => m.records.map((r) => r.messageId))).toEqual([['m0', 'm1'], ['m2', 'm3'], ['m4']]);
  for (const m of packed) expect(parseOrderBody(m.body)).toEqual(m.events);
  expect(packOrderMessages([])).toEqual([]);
});

test('the byte bound splits a message; an event bigger than the bound still travels, alone', () => {
  const big = 'x'.repeat(1000);
  const packed = packOrderMessages(valid(['a', 'b', 'c'], big), { maxEvents: 10, maxBytes: 2200 });
  expect(packed.map(ids)).toEqual([['a', 'b'], ['c']]);
  for (const m of packed) expect(Buffer.byteLength(m.body)).toBeLessThanOrEqual(2200);
  const alone = packOrderMessages(valid(['a', 'b'], big), { maxEvents: 10, maxBytes: 500 });
  expect(alone.map(ids)).toEqual([['a'], ['b']]);
});

test('an id seen twice in a batch travels once; both records are acknowledged with its message', () => {
  const packed = packOrderMessages(
    [
      { record: record(0), event: ev('a', 1) },
      { record: record(1), event: ev('b') },
      { record: record(2), event: ev('c') },
      { record: record(3), event: ev('a', 2) },
    ],
    { maxEvents: 2, maxBytes: 1 << 20 },
  );
  expect(packed.map(ids)).toEqual([['a', 'b'], ['c']]);
  expect(packed[0]?.events[0]?.data).toBe(1); // the first one wins
  expect(packed[0]?.records.map((r) => r.messageId)).toEqual(['m0', 'm1', 'm3']);
});

test('the sequencer reads packed bodies and the one-event bodies sent before packing; refuses anything else', () => {
  expect(parseOrderBody(orderMessageBody([ev('a'), ev('b')]))?.map((e) => e.id)).toEqual(['a', 'b']);
  expect(parseOrderBody(JSON.stringify({ id: 'old', channels: ['c_1'], event: 'e', data: { x: 1 } }))).toEqual([
    { id: 'old', channels: ['c_1'], event: 'e', data: { x: 1 } },
  ]);
  expect(parseOrderBody('not json')).toBeUndefined();
  expect(parseOrderBody('null')).toBeUndefined();
  expect(parseOrderBody('{"events":[]}')).toBeUndefined();
  // One bad event makes the whole message unreadable: it is dropped loudly, never half sequenced.
  expect(parseOrderBody(`{"events":[${JSON.stringify(ev('a'))},{"id":"b"}]}`)).toBeUndefined();
});
