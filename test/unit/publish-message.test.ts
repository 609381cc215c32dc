import { parsePublishMessage } from '../../shared/publish-message';

const ok = (m: unknown, id = 'sns-1') => {
  const r = parsePublishMessage(typeof m === 'string' ? m : JSON.stringify(m), id);
  if (!r.ok) throw new Error(r.reason);
  return r.event;
};
const reason = (m: unknown) => {
  const r = parsePublishMessage(typeof m === 'string' ? m : JSON.stringify(m), 'sns-1');
  if (r.ok) throw new Error('expected rejection');
  return r.reason;
};

describe('publish messages (protocol §4)', () => {
  test('a valid message; id defaults to the SNS MessageId; duplicate channels collapse in order', () => {
    expect(
      ok({
        channels: ['specialist_2', 'workpoint_5', 'specialist_2', 'admin'],
        event: 'create',
        data: { booking_id: 9 },
      }),
    ).toEqual({
      channels: ['specialist_2', 'workpoint_5', 'admin'],
      event: 'create',
      data: { booking_id: 9 },
      id: 'sns-1',
    });
    expect(ok({ channels: ['a'], event: 'e', id: 'key-1' }).id).toBe('key-1');
    expect(ok({ channels: ['a'], event: 'e' }).data).toBeNull();
  });

  test.each([
    ['not JSON', 'nope', /not valid JSON/],
    ['not an object', '[1]', /JSON object/],
    ['no channels', { event: 'e' }, /channels is required/],
    ['empty channels', { channels: [], event: 'e' }, /at least one/],
    ['21 channels', { channels: Array.from({ length: 21 }, (_, i) => `c${i}`), event: 'e' }, /at most 20/],
    ['invalid channel', { channels: ['ok', 'not ok'], event: 'e' }, /channels.1/],
    ['no event', { channels: ['a'] }, /event is required/],
    ['empty event', { channels: ['a'], event: '' }, /event/],
    ['long event', { channels: ['a'], event: 'x'.repeat(65) }, /64/],
    ['numeric id', { channels: ['a'], event: 'e', id: 3 }, /id/],
    ['data over 32 KB', { channels: ['a'], event: 'e', data: 'x'.repeat(32 * 1024) }, /32768/],
  ])('%s is rejected with a reason', (_, m, why) => {
    expect(reason(m)).toMatch(why);
  });

  test('20 channels and 32 KB of data are accepted', () => {
    expect(
      ok({ channels: Array.from({ length: 20 }, (_, i) => `c${i}`), event: 'e', data: 'x'.repeat(32 * 1024 - 2) })
        .channels,
    ).toHaveLength(20);
  });
});
