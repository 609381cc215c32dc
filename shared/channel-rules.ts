import * as z from 'zod/mini';
import type { Identity } from './tokens';
import { CHANNEL_NAME_PATTERN } from './wire';

/**
 * Who may hear which channel (protocol §2), as data: one rule list used by every handler and by
 * local mode. Deny by default: a channel no rule allows is forbidden.
 *
 * A rule's `channel` is a template: literal text plus at most one `{param}` that matches the rest of
 * the name (one or more characters). A rule allows a token when ANY of its `allow` conditions holds;
 * a condition holds when ALL its fields hold:
 * - `role`: the token's `role` claim equals this value;
 * - `claim`: the named claim (compared as a string) equals the template's parameter;
 * - `any: true`: any valid token.
 * Independently of the rules, a token's own `channels` claim (names or `*` patterns) allows a match.
 *
 * `presence: true` turns presence on for the channels a rule's template matches (protocol §8): who is
 * online, join and leave frames. It is a property of the channel, not of who asks: a channel has
 * presence when any rule whose template matches its name says so (a channel allowed only by a
 * `channels` claim has none unless a rule names it).
 */

/** `a, b,a` → `['a', 'b']`: a comma-separated channel list (query strings), trimmed and deduplicated. */
export function parseChannelList(value: string | undefined): string[] {
  return [
    ...new Set(
      (value ?? '')
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
    ),
  ];
}

export function isValidChannelName(name: unknown): boolean {
  return typeof name === 'string' && CHANNEL_NAME_PATTERN.test(name);
}

const conditionSchema = z
  .strictObject({
    role: z.optional(z.string().check(z.minLength(1))),
    claim: z.optional(z.enum(['sub', 'specialist_id', 'workpoint_id', 'role'])),
    any: z.optional(z.literal(true)),
  })
  .check(
    z.refine(
      (c) => c.role !== undefined || c.claim !== undefined || c.any !== undefined,
      'a condition needs role, claim or any',
    ),
  );

const ruleSchema = z.strictObject({
  channel: z
    .string()
    .check(
      z.regex(
        /^[A-Za-z0-9_.:-]*(\{[a-z_]+\})?$/,
        'channel template: literal name chars plus at most one trailing {param}',
      ),
    ),
  allow: z.array(conditionSchema).check(z.minLength(1, 'allow needs at least one condition')),
  presence: z.optional(z.boolean()),
});

export const channelRulesSchema = z.array(ruleSchema);
export type ChannelRule = z.infer<typeof ruleSchema>;
export type RuleCondition = z.infer<typeof conditionSchema>;

/** Presence is on for the staff channels (small: a specialist, a workpoint's staff, the admins). */
export const DEFAULT_CHANNEL_RULES: ChannelRule[] = [
  { channel: 'specialist_{id}', allow: [{ role: 'admin' }, { claim: 'specialist_id' }], presence: true },
  {
    channel: 'workpoint_{id}',
    allow: [{ role: 'admin' }, { role: 'supervisor', claim: 'workpoint_id' }],
    presence: true,
  },
  { channel: 'admin', allow: [{ role: 'admin' }], presence: true },
  { channel: 'user_{sub}', allow: [{ claim: 'sub' }] },
  { channel: 'public_{name}', allow: [{ any: true }] },
];

export class ChannelRulesError extends Error {
  override name = 'ChannelRulesError';
}

/** Parses a JSON rule list (SWITCHBOARD_CHANNEL_RULES); throws a readable error. */
export function parseChannelRules(json: string): ChannelRule[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new ChannelRulesError('SWITCHBOARD_CHANNEL_RULES is not valid JSON', { cause: err });
  }
  const parsed = channelRulesSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ChannelRulesError(
      `SWITCHBOARD_CHANNEL_RULES is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

interface CompiledRule {
  prefix: string;
  hasParam: boolean;
  allow: RuleCondition[];
  presence: boolean;
}

export class ChannelPolicy {
  private readonly compiled: CompiledRule[];

  constructor(rules: ChannelRule[] = DEFAULT_CHANNEL_RULES) {
    this.compiled = rules.map((r) => {
      const brace = r.channel.indexOf('{');
      const presence = r.presence === true;
      return brace === -1
        ? { prefix: r.channel, hasParam: false, allow: r.allow, presence }
        : { prefix: r.channel.slice(0, brace), hasParam: true, allow: r.allow, presence };
    });
  }

  /** True when this identity may hear `channel`. Invalid names are never allowed. */
  canSubscribe(identity: Identity, channel: string): boolean {
    if (!isValidChannelName(channel)) return false;
    if (identity.channels?.some((p) => matchesPattern(p, channel))) return true;
    for (const rule of this.compiled) {
      const param = templateParam(rule, channel);
      if (param !== false && rule.allow.some((c) => conditionHolds(c, identity, param))) return true;
    }
    return false;
  }

  /** True when `channel` has presence (protocol §8): a rule whose template matches it says `presence: true`. */
  hasPresence(channel: string): boolean {
    return (
      isValidChannelName(channel) &&
      this.compiled.some((rule) => rule.presence && templateParam(rule, channel) !== false)
    );
  }

  /** The first channel of the list this identity may not hear, or undefined when all are allowed. */
  firstForbidden(identity: Identity, channels: readonly string[]): string | undefined {
    return channels.find((c) => !this.canSubscribe(identity, c));
  }
}

/** The template's parameter in `channel` (undefined for a literal rule), or false when the rule does not match it. */
function templateParam(rule: CompiledRule, channel: string): string | undefined | false {
  if (!rule.hasParam) return channel === rule.prefix ? undefined : false;
  if (!channel.startsWith(rule.prefix) || channel.length === rule.prefix.length) return false;
  return channel.slice(rule.prefix.length);
}

function conditionHolds(c: RuleCondition, identity: Identity, param: string | undefined): boolean {
  if (c.any) return true;
  if (c.role !== undefined && identity.role !== c.role) return false;
  if (c.claim !== undefined) {
    const value = claimValue(identity, c.claim);
    if (value === undefined || param === undefined || value !== param) return false;
  }
  return true;
}

function claimValue(identity: Identity, claim: NonNullable<RuleCondition['claim']>): string | undefined {
  switch (claim) {
    case 'sub':
      return identity.sub;
    case 'role':
      return identity.role;
    case 'specialist_id':
      return identity.specialistId;
    case 'workpoint_id':
      return identity.workpointId;
  }
}

/** `*` matches any run of characters (including none); everything else is literal. */
export function matchesPattern(pattern: string, channel: string): boolean {
  if (!pattern.includes('*')) return pattern === channel;
  const parts = pattern.split('*');
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (!channel.startsWith(first) || channel.length < first.length + last.length || !channel.endsWith(last))
    return false;
  let pos = first.length;
  const end = channel.length - last.length;
  for (const mid of parts.slice(1, -1)) {
    if (mid === '') continue;
    const at = channel.indexOf(mid, pos);
    if (at === -1 || at + mid.length > end) return false;
    pos = at + mid.length;
  }
  return true;
}
