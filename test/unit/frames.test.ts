import { parseClientFrame } from '../../shared/frames';

const MAX = 4096;
const err = (body: string | undefined) => {
  const r = parseClientFrame(body, MAX);
  if (r.ok) throw new Error(`expected an error for ${body}`);
  return r.error;
};

describe('client frames: every error code the parser owns', () => {
  test.each([
    ['empty', '', 'bad_request', /empty frame/],
    ['not JSON', '{nope', 'bad_request', /not valid JSON/],
    ['JSON array', '[1,2]', 'bad_request', /JSON object/],
    ['JSON null', 'null', 'bad_request', /JSON object/],
    ['JSON string', '"subscribe"', 'bad_request', /JSON object/],
    ['no action', '{"channel":"a"}', 'bad_request', /string "action"/],
    ['numeric action', '{"action":5}', 'bad_request', /string "action"/],
    ['unknown action', '{"action":"publish"}', 'unknown_action', /unknown action "publish"/],
    ['subscribe without channel', '{"action":"subscribe"}', 'bad_request', /channel is required/],
    ['invalid channel name', '{"action":"subscribe","channel":"no spaces"}', 'bad_request', /channel/],
    ['channel not a string', '{"action":"unsubscribe","channel":7}', 'bad_request', /channel/],
    ['negative since', '{"action":"subscribe","channel":"a","since":-1}', 'bad_request', /since/],
    ['fractional since', '{"action":"subscribe","channel":"a","since":1.5}', 'bad_request', /since/],
    ['string since', '{"action":"subscribe","channel":"a","since":"3"}', 'bad_request', /since/],
    ['non-string id', '{"action":"ping","id":5}', 'bad_request', /id must be a string/],
  ])('%s → %s', (_, body, code, message) => {
    const e = err(body);
    expect(e.type).toBe('error');
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
  });

  test('too_large above the limit, with the id echoed; exactly the limit is fine', () => {
    const pad = (n: number) => {
      const base = '{"action":"ping","id":"big","pad":""}';
      return base.replace('"pad":""', `"pad":"${'x'.repeat(n - base.length)}"`);
    };
    expect(pad(MAX + 1)).toHaveLength(MAX + 1);
    expect(err(pad(MAX + 1))).toMatchObject({
      code: 'too_large',
      id: 'big',
      message: expect.stringContaining(`${MAX} bytes`),
    });
    expect(parseClientFrame(pad(MAX), MAX).ok).toBe(true);
  });

  test('size counts bytes, not characters', () => {
    const body = `{"action":"ping","pad":"${'é'.repeat(2100)}"}`;
    expect(body.length).toBeLessThan(MAX);
    expect(err(body).code).toBe('too_large');
  });

  test('the id is echoed on errors when it is a string', () => {
    expect(err('{"action":"nope","id":"r1"}')).toEqual({
      type: 'error',
      code: 'unknown_action',
      message: expect.any(String),
      id: 'r1',
    });
    expect(err('{"action":"subscribe","id":"r2"}').id).toBe('r2');
    expect(err('{"action":5,"id":"r3"}').id).toBe('r3');
    expect(err('{nope').id).toBeUndefined();
  });

  test('valid frames parse to typed values, extra fields ignored', () => {
    expect(
      parseClientFrame('{"action":"subscribe","channel":"specialist_2","since":12,"id":"a","extra":1}', MAX),
    ).toEqual({
      ok: true,
      frame: { action: 'subscribe', channel: 'specialist_2', since: 12, id: 'a' },
    });
    expect(parseClientFrame('{"action":"unsubscribe","channel":"x"}', MAX)).toEqual({
      ok: true,
      frame: { action: 'unsubscribe', channel: 'x' },
    });
    expect(parseClientFrame('{"action":"ping"}', MAX)).toEqual({ ok: true, frame: { action: 'ping' } });
  });
});
