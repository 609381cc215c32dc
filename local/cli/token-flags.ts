import { CliError, endpointsFile, mintToken, readEndpoints, splitList, type TokenClaims } from './common';

/** The flags that describe a token, shared by `token` and `tail`. */
export const TOKEN_OPTIONS = {
  sub: { type: 'string' },
  role: { type: 'string' },
  'specialist-id': { type: 'string' },
  'workpoint-id': { type: 'string' },
  ttl: { type: 'string' },
  secret: { type: 'string' },
  'endpoints-file': { type: 'string' },
} as const;

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
  if (!Number.isInteger(ttl) || ttl < 1) throw new CliError(`--ttl must be a positive number of seconds, got "${f.ttl}"`);
  const claims: TokenClaims = { sub: f.sub ?? 'local-user' };
  if (f.role) claims.role = f.role;
  if (f['specialist-id'] !== undefined) claims.specialist_id = f['specialist-id'];
  if (f['workpoint-id'] !== undefined) claims.workpoint_id = f['workpoint-id'];
  if (channelsClaim !== undefined) claims.channels = splitList(channelsClaim);
  return mintToken(claims, secretFrom(f), ttl);
}
