import {
  ChannelPolicy,
  isValidChannelName,
  matchesPattern,
  parseChannelRules,
  ChannelRulesError,
} from '../../shared/channel-rules';
import type { Identity } from '../../shared/tokens';

const exp = 2_000_000_000;
const specialist2: Identity = { sub: 'u-s2', role: 'specialist', specialistId: '2', exp };
const supervisor5: Identity = { sub: 'u-w5', role: 'supervisor', workpointId: '5', exp };
const admin: Identity = { sub: 'u-admin', role: 'admin', exp };
const plain: Identity = { sub: 'u-plain', exp };
const fakeSupervisor: Identity = { sub: 'u-x', role: 'specialist', workpointId: '5', exp };
const withClaim: Identity = { sub: 'u-c', role: 'viewer', channels: ['room_*', 'exact', 'a*b*c'], exp };

const policy = new ChannelPolicy();

describe('built-in channel rules (protocol §2)', () => {
  const table: [string, Identity, string, boolean][] = [
    ['specialist hears own channel', specialist2, 'specialist_2', true],
    ['specialist not another specialist', specialist2, 'specialist_3', false],
    ['specialist not a prefix trick', specialist2, 'specialist_22', false],
    ['specialist not the workpoint', specialist2, 'workpoint_5', false],
    ['specialist not admin', specialist2, 'admin', false],
    ['supervisor hears own workpoint', supervisor5, 'workpoint_5', true],
    ['supervisor not another workpoint', supervisor5, 'workpoint_6', false],
    ['supervisor not specialists', supervisor5, 'specialist_2', false],
    ['workpoint claim without supervisor role is not enough', fakeSupervisor, 'workpoint_5', false],
    ['admin hears any specialist', admin, 'specialist_99', true],
    ['admin hears any workpoint', admin, 'workpoint_1', true],
    ['admin hears admin', admin, 'admin', true],
    ['admin does not hear other users', admin, 'user_someone', false],
    ['admin does not hear arbitrary names', admin, 'random', false],
    ['user channel for own sub', plain, 'user_u-plain', true],
    ['user channel of another sub', plain, 'user_u-other', false],
    ['public channel for any token', plain, 'public_lobby', true],
    ['bare prefix is not a channel of the rule', plain, 'public_', false],
    ['deny by default', plain, 'specialist_1', false],
    ['channels claim: wildcard', withClaim, 'room_42', true],
    ['channels claim: exact', withClaim, 'exact', true],
    ['channels claim: exact does not prefix-match', withClaim, 'exactly', false],
    ['channels claim: multiple stars', withClaim, 'a-x-b-y-c', true],
    ['channels claim: stars keep order', withClaim, 'c-b-a', false],
    ['invalid name never allowed, even to admin', admin, 'specialist_1 ', false],
    ['too long name never allowed', admin, `specialist_${'1'.repeat(120)}`, false],
  ];
  test.each(table)('%s', (_, identity, channel, allowed) => {
    expect(policy.canSubscribe(identity, channel)).toBe(allowed);
  });

  test('numeric claims compare as strings', () => {
    expect(policy.canSubscribe({ sub: 'n', specialistId: String(7), exp }, 'specialist_7')).toBe(true);
  });

  test('firstForbidden names the first forbidden channel', () => {
    expect(policy.firstForbidden(specialist2, ['specialist_2', 'admin', 'workpoint_1'])).toBe('admin');
    expect(policy.firstForbidden(admin, ['specialist_2', 'admin'])).toBeUndefined();
  });
});

describe('channel names', () => {
  test.each([
    ['specialist_2', true],
    ['a.b:c-d_e', true],
    ['x'.repeat(128), true],
    ['x'.repeat(129), false],
    ['', false],
    ['has space', false],
    ['slash/no', false],
    ['star*', false],
    [42, false],
  ])('%p valid=%p', (name, ok) => expect(isValidChannelName(name)).toBe(ok));
});

describe('wildcard patterns', () => {
  test.each([
    ['*', 'anything', true],
    ['*', '', true],
    ['a*', 'a', true],
    ['*z', 'az', true],
    ['a*z', 'az', true],
    ['a*z', 'a', false],
    ['ab*ba', 'aba', false],
    ['x*y*z', 'xzyz', true],
    ['x*y*z', 'xzz', false],
  ])('%p matches %p: %p', (p, c, ok) => expect(matchesPattern(p, c)).toBe(ok));
});

describe('rules as data', () => {
  test('a custom rule list replaces the built-in one', () => {
    const custom = new ChannelPolicy(parseChannelRules('[{"channel":"team_{id}","allow":[{"claim":"workpoint_id"}]}]'));
    expect(custom.canSubscribe(supervisor5, 'team_5')).toBe(true);
    expect(custom.canSubscribe(supervisor5, 'workpoint_5')).toBe(false);
  });
  test('invalid rule JSON is refused with a readable error', () => {
    expect(() => parseChannelRules('nope')).toThrow(ChannelRulesError);
    expect(() => parseChannelRules('[{"channel":"x","allow":[]}]')).toThrow(/allow/);
    expect(() => parseChannelRules('[{"channel":"x","allow":[{"claim":"password"}]}]')).toThrow(/claim/);
  });
});

describe('presence (protocol §8)', () => {
  test.each([
    ['specialist_2', true],
    ['workpoint_5', true],
    ['admin', true],
    ['user_u-plain', false],
    ['public_lobby', false],
    ['room_42', false], // allowed by a channels claim only
    ['specialist_', false], // the bare prefix is no channel of the rule
    ['adminx', false],
    ['bad name', false],
  ])('built in: %p has presence: %p', (channel, on) => expect(policy.hasPresence(channel)).toBe(on));

  test('configurable like the rest: a rule with presence: true turns it on for what its template matches', () => {
    const custom = new ChannelPolicy(
      parseChannelRules(
        '[{"channel":"team_{id}","allow":[{"claim":"workpoint_id"}],"presence":true},{"channel":"public_{x}","allow":[{"any":true}]}]',
      ),
    );
    expect(custom.hasPresence('team_5')).toBe(true);
    expect(custom.hasPresence('public_lobby')).toBe(false);
    expect(custom.hasPresence('specialist_2')).toBe(false);
    expect(() => parseChannelRules('[{"channel":"x","allow":[{"any":true}],"presence":"yes"}]')).toThrow(/presence/);
  });
});
