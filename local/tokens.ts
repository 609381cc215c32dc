import { SignJWT } from 'jose';
import { LOCAL_DEV_SECRET } from '../shared/config';

/**
 * HS256 tokens (protocol §1) for local mode, the CLI, the demo page, the benchmarks and the tests:
 * minted here and nowhere else. Production tokens come from the application's backend.
 */
export interface TokenClaims {
  sub: string;
  role?: string;
  specialist_id?: string | number;
  workpoint_id?: string | number;
  channels?: string[];
  /** Display name (presence); anything else is ignored by the verifier, which tests rely on. */
  name?: unknown;
}

export async function mintToken(
  claims: TokenClaims,
  secret: string = LOCAL_DEV_SECRET,
  ttlSeconds = 3600,
  nowMs = Date.now(),
): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  const { sub, ...rest } = claims;
  return new SignJWT({ ...rest })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}
