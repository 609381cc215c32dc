import {
  buildLaneMessages,
  eventFrame,
  frameHead,
  laneOf,
  parseLaneMessage,
  targetJsonLength,
  type LaneEvent,
  type LaneTarget,
} from '../../shared/lanes';

const targets = (n: number, seq: number): LaneTarget[] =>
  Array.from({ length: n }, (_, i) => ({ connectionId: `conn-${i}`, seqs: { ch: seq } }));

describe('lanes', () => {
  test('a connection always maps to the same lane, and lanes are used evenly', () => {
    const counts = new Array(16).fill(0) as number[];
    for (let i = 0; i < 16_000; i++) {
      const lane = laneOf(`c${i}=`, 16);
      expect(laneOf(`c${i}=`, 16)).toBe(lane);
      counts[lane] = (counts[lane] ?? 0) + 1;
    }
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });

  test('each lane gets its connections\u2019 events in event order, one frame per connection per event', () => {
    const events = [1, 2, 3].map((seq) => ({
      id: `e${seq}`,
      head: frameHead({ id: `e${seq}`, event: 'x', data: seq }, 1000 + seq),
      targets: targets(40, seq),
    }));
    const lanes = buildLaneMessages(events, { lanes: 4, shardSize: 500, maxBytes: 200_000 });
    const seen = new Map<string, number[]>();
    for (const lane of lanes) {
      for (const m of lane) {
        for (const e of parseLaneMessage(m.body)?.events ?? []) {
          for (const [c, seqs] of e.targets) {
            expect(laneOf(c, 4)).toBe(m.lane);
            seen.set(c, [...(seen.get(c) ?? []), seqs.ch as number]);
          }
        }
      }
    }
    expect(seen.size).toBe(40);
    for (const list of seen.values()) expect(list).toEqual([1, 2, 3]);
  });

  test('a lane over the shard size or the byte limit continues in further messages, in order', () => {
    const events = [
      { id: 'big', head: frameHead({ id: 'big', event: 'x', data: 'y'.repeat(1000) }, 1), targets: targets(1200, 7) },
    ];
    const bySize = buildLaneMessages(events, { lanes: 1, shardSize: 500, maxBytes: 1_000_000 });
    expect(bySize[0]?.map((m) => parseLaneMessage(m.body)?.events[0]?.targets.length)).toEqual([500, 500, 200]);
    const byBytes = buildLaneMessages(events, { lanes: 1, shardSize: 5000, maxBytes: 10_000 });
    expect(byBytes[0]!.length).toBeGreaterThanOrEqual(3);
    for (const m of byBytes[0]!) expect(m.body.length).toBeLessThanOrEqual(10_000);
    const all = byBytes[0]!.flatMap((m) => parseLaneMessage(m.body)!.events.flatMap((e) => e.targets.map(([c]) => c)));
    expect(all).toEqual(targets(1200, 7).map((t) => t.connectionId));
  });

  test('a frame names the first of the connection\u2019s channels and all its seqs', () => {
    const head = frameHead({ id: 'evt-1', event: 'update', data: { booking_id: 9 } }, 1763855000000);
    expect(JSON.parse(eventFrame(head, { specialist_2: 18, workpoint_5: 7 }))).toEqual({
      type: 'event',
      id: 'evt-1',
      event: 'update',
      data: { booking_id: 9 },
      ts: 1763855000000,
      channel: 'specialist_2',
      seqs: { specialist_2: 18, workpoint_5: 7 },
    });
  });

  test('a target\u2019s size is counted exactly as its JSON bytes, without serializing it', () => {
    const cases: LaneEvent['targets'] = [
      ['Lr0GWcmQIAMCJwQ=', { specialist_2: 18 }],
      ['a', { a: 1, 'b.c:d-e_f': 123456789, z: 0 }, 1],
      ['quote"back\\slash', { ch: 7 }],
      ['ünïcödé\u0001', { 'ch\u00e9': 42 }, 1],
      ['empty', {}],
    ];
    for (const t of cases)
      expect({ t, n: targetJsonLength(t) }).toEqual({ t, n: Buffer.byteLength(JSON.stringify(t)) });
  });
});
