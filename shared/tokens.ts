import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTVerifyGetKey,
  type JWTPayload,
} from 'jose';
import * as z from 'zod/mini';
import { TokenError } from './errors';
import type { Clock } from './clock';
import type { Runtime } from './runtime';

/**
 * Token verification (protocol §1). HS256 with a shared secret, and/or RS256/ES256 from a JWKS URL.
 * `sub` and `exp` are required; `alg: none` and every other algorithm are refused. Tokens are never
 * logged: errors name what was wrong, not the token.
 */
export interface Identity {
  sub: string;
  role?: string;
  specialistId?: string;
  workpointId?: string;
  /** Channel names or `*` patterns from the token's `channels` claim. */
  channels?: string[];
  /** Display name from the optional `name` claim (shown in presence, protocol §8); at most 128 characters. */
  name?: string;
  /** Expiry, epoch seconds. */
  exp: number;
}

export interface TokenVerifierOptions {
  secret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  clock?: Clock;
  /** For tests: a key resolver instead of fetching jwksUrl. */
  jwks?: JWTVerifyGetKey;
}

const idClaim = z.pipe(
  z.union([z.string().check(z.minLength(1), z.maxLength(128)), z.number()], {
    error: 'specialist_id and workpoint_id must be strings or numbers',
  }),
  z.transform((v) => String(v)),
);

const claimsSchema = z.object({
  sub: z
    .string({ error: 'sub claim is required' })
    .check(z.minLength(1, 'sub claim is empty'), z.maxLength(256, 'sub claim is too long')),
  exp: z.number({ error: 'exp claim is required' }),
  role: z.optional(z.string({ error: 'role claim must be a string' }).check(z.maxLength(64, 'role claim is too long'))),
  specialist_id: z.optional(idClaim),
  workpoint_id: z.optional(idClaim),
  channels: z.optional(
    z
      .array(
        z
          .string()
          .check(z.regex(/^[A-Za-z0-9_.:*-]{1,128}$/, 'channels claim entries must be channel names or * patterns')),
        {
          error: 'channels claim must be an array',
        },
      )
      .check(z.maxLength(1000, 'channels claim has too many entries')),
  ),
});

const HMAC_ALGS = ['HS256'];
const ASYMMETRIC_ALGS = ['RS256', 'ES256'];

export class TokenVerifier {
  private readonly secret?: Uint8Array;
  private readonly jwks?: JWTVerifyGetKey;

  constructor(private readonly opts: TokenVerifierOptions) {
    if (opts.secret) this.secret = new TextEncoder().encode(opts.secret);
    this.jwks = opts.jwks ?? (opts.jwksUrl ? createRemoteJWKSet(new URL(opts.jwksUrl)) : undefined);
    if (!this.secret && !this.jwks) throw new Error('TokenVerifier needs a secret or a JWKS URL');
  }

  async verify(token: string | undefined | null): Promise<Identity> {
    if (!token) throw new TokenError('missing token');
    if (token.length > 8192 || token.split('.').length !== 3) throw new TokenError('malformed token');
    let payload: JWTPayload;
    try {
      const common = {
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        requiredClaims: ['sub', 'exp'],
        currentDate: this.opts.clock ? new Date(this.opts.clock.now()) : undefined,
      };
      const alg = headerAlg(token);
      if (alg !== undefined && HMAC_ALGS.includes(alg) && this.secret) {
        ({ payload } = await jwtVerify(token, this.secret, { ...common, algorithms: HMAC_ALGS }));
      } else if (alg !== undefined && ASYMMETRIC_ALGS.includes(alg) && this.jwks) {
        ({ payload } = await jwtVerify(token, this.jwks, { ...common, algorithms: ASYMMETRIC_ALGS }));
      } else {
        throw new TokenError(`token algorithm ${alg ?? '(none)'} is not accepted`);
      }
    } catch (err) {
      if (err instanceof TokenError) throw err;
      throw new TokenError(describeJoseError(err), { cause: err });
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success)
      throw new TokenError(`invalid claims: ${claims.error.issues.map((i) => i.message).join('; ')}`);
    const c = claims.data;
    return {
      sub: c.sub,
      exp: c.exp,
      ...(c.role !== undefined && { role: c.role }),
      ...(c.specialist_id !== undefined && { specialistId: c.specialist_id }),
      ...(c.workpoint_id !== undefined && { workpointId: c.workpoint_id }),
      ...(c.channels !== undefined && { channels: c.channels }),
      // Display only: a `name` that is not a string is ignored rather than failing the token.
      ...(typeof payload.name === 'string' && payload.name !== '' && { name: payload.name.slice(0, 128) }),
    };
  }
}

/**
 * The runtime's token verifier, built on first use (shared/runtime.ts, OnDemand) from the token
 * source the function was given: only connect and http verify tokens, so only their bundles hold
 * the JWT library.
 */
export function verifierFor(rt: Pick<Runtime, 'config' | 'clock' | 'onDemand'>): TokenVerifier {
  return (rt.onDemand.verifier ??= new TokenVerifier({
    secret: rt.onDemand.jwtSecret ?? rt.config.jwtSecret,
    jwksUrl: rt.config.jwksUrl,
    issuer: rt.config.jwtIssuer,
    audience: rt.config.jwtAudience,
    clock: rt.clock,
  }));
}

function headerAlg(token: string): string | undefined {
  try {
    const { alg } = decodeProtectedHeader(token);
    return typeof alg === 'string' ? alg : undefined;
  } catch (err) {
    throw new TokenError('malformed token header', { cause: err });
  }
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'token expired';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad token signature';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `token claim ${err.claim} rejected: ${err.reason}`;
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no matching signing key';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm not accepted';
  return 'invalid token';
}
