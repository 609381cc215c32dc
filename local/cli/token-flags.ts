import {
  CliError,
  endpointsFile,
  mintToken,
  readEndpoints,
  splitList,
  type CliOptions,
  type TokenClaims,
} from './common';

/** The flags that describe a token, shared by `token` and `tail`. */
export const TOKEN_OPTIONS = {
  sub: { type: 'string', value: 'ID' },
  role: { type: 'string', value: 'ROLE' },
  'specialist-id': { type: 'string', value: 'N' },
  'workpoint-id': { type: 'string', value: 'N' },
  ttl: { type: 'string', value: 'SECONDS' },
  secret: { type: 'string', value: 'SECRET' },
  'endpoints-file': { type: 'string', value: 'FILE' },
} as const satisfies CliOptions;

export interface TokenFlags {
  sub?: string;
  role?: string;
  'specialist-id'?: string;
  'workpoint-id'?: string;
  ttl?: string;
  secret?: string;
  'endpoints-file'?: string;
}

/** The HS256 secret: --secret, else SWITCHBOARD_JWT_SECRET, else .local/endpoints.json, else the local default. */
export function secretFrom(f: Pick<TokenFlags, 'secret' | 'endpoints-file'>): string | undefined {
  return f.secret ?? process.env.SWITCHBOARD_JWT_SECRET ?? readEndpoints(endpointsFile(f['endpoints-file']))?.jwtSecret;
}

/** Mints a token from the flags; `channelsClaim` becomes the `channels` claim. */
export async function tokenFromFlags(f: TokenFlags, channelsClaim?: string): Promise<string> {
  const ttl = f.ttl === undefined ? 3600 : Number(f.ttl);
  if (!Number.isInteger(ttl) || ttl < 1)
    throw new CliError(`--ttl must be a positive number of seconds, got "${f.ttl}"`);
  // The server refuses a token without a subject (protocol §1: `sub` is required); say so here.
  if (f.sub !== undefined && f.sub.trim() === '')
    throw new CliError(
      '--sub must not be empty: the server refuses a token without a subject (leave --sub out for "local-user")',
    );
  const claims: TokenClaims = { sub: f.sub ?? 'local-user' };
  if (f.role) claims.role = f.role;
  if (f['specialist-id'] !== undefined) claims.specialist_id = f['specialist-id'];
  if (f['workpoint-id'] !== undefined) claims.workpoint_id = f['workpoint-id'];
  if (channelsClaim !== undefined) claims.channels = splitList(channelsClaim);
  return mintToken(claims, secretFrom(f), ttl);
}
