import { ChannelState } from '../../client/src/channel-state';
import { event } from './fake-socket';

const ids = (frames: { id: string }[]) => frames.map((f) => f.id);
const offer = (s: ChannelState, seq: number) => ids(s.offer(seq, event(`e${seq}`, { a: seq })));

describe('ChannelState: per-channel order and dedupe by seq', () => {
  test('the first known seq is the baseline; events continue from it, repeats are dropped', () => {
    const s = new ChannelState();
    expect(s.known(10)).toEqual([]);
    expect(s.last).toBe(10);
    expect(offer(s, 10)).toEqual([]); // at the baseline: already part of the state
    expect(offer(s, 11)).toEqual(['e11']);
    expect(offer(s, 11)).toEqual([]); // duplicate seq
    expect(offer(s, 12)).toEqual(['e12']);
    expect(s.gap).toBe(false);
  });

  test('an event that skips ahead is held and released in seq order once the gap fills', () => {
    const s = new ChannelState();
    s.known(10);
    expect(offer(s, 13)).toEqual([]);
    expect(offer(s, 12)).toEqual([]);
    expect(s.gap).toBe(true);
    expect(offer(s, 11)).toEqual(['e11', 'e12', 'e13']);
    expect(s.last).toBe(13);
    expect(s.gap).toBe(false);
  });

  test('events held before the first `subscribed`: those after the baseline are released in order, the rest are in it', () => {
    const s = new ChannelState();
    expect(offer(s, 19)).toEqual([]); // no baseline yet
    expect(offer(s, 17)).toEqual([]);
    expect(offer(s, 18)).toEqual([]);
    expect(ids(s.known(17))).toEqual(['e18', 'e19']);
    expect(s.last).toBe(19);
    expect(offer(s, 18)).toEqual([]);
  });

  test('a later `subscribed` seq above last marks a gap (replay must bring the rest)', () => {
    const s = new ChannelState();
    s.known(5);
    s.known(8);
    expect(s.last).toBe(5);
    expect(s.gap).toBe(true);
    offer(s, 6);
    offer(s, 7);
    expect(offer(s, 8)).toEqual(['e8']);
    expect(s.gap).toBe(false);
  });

  test('reset adopts the seq, drops held events at or below it and releases the ones after it', () => {
    const s = new ChannelState();
    s.known(1);
    offer(s, 5);
    offer(s, 9);
    expect(ids(s.reset(8))).toEqual(['e9']);
    expect(s.last).toBe(9);
    expect(s.gap).toBe(false);
  });

  test('skip gives up on the missing seqs: continues before the first held event', () => {
    const s = new ChannelState();
    s.known(3);
    offer(s, 6);
    offer(s, 7);
    const { seq, events } = s.skip();
    expect(seq).toBe(5);
    expect(ids(events)).toEqual(['e6', 'e7']);
    expect(s.gap).toBe(false);
  });
});
