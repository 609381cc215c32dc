import fs from 'node:fs';
import path from 'node:path';
import { SignJWT } from 'jose';
import { LOCAL_DEV_SECRET } from '../../shared/config';
import type { LocalEndpoints } from '../runtime';

/**
 * What the CLI tools share: where `npm start` wrote its endpoints, token minting, one-line errors.
 * Every value read from `.local/endpoints.json` can be overridden by a flag or the environment, so
 * the tools also work against a deployed stack.
 */
// Node 20 here, 22 on Lambda: the SDK's reminder about that is noise in a CLI's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const DEFAULT_ENDPOINTS_FILE = path.join(REPO_ROOT, '.local', 'endpoints.json');

export function endpointsFile(flag?: string): string {
  return path.resolve(flag ?? process.env.SWITCHBOARD_LOCAL_ENDPOINTS_FILE ?? DEFAULT_ENDPOINTS_FILE);
}

/** The endpoints `npm start` wrote, or undefined when there is no such file. */
export function readEndpoints(file: string): Partial<LocalEndpoints> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as Partial<LocalEndpoints>;
  } catch {
    throw new CliError(`${file} is not valid JSON; restart \`npm start\` to rewrite it`);
  }
}

/** Writes the endpoints file atomically (readers never see half a file). */
export function writeEndpoints(file: string, endpoints: LocalEndpoints): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(endpoints, null, 2)}\n`);
  fs.renameSync(tmp, file);
}

export interface TokenClaims {
  sub: string;
  role?: string;
  specialist_id?: string;
  workpoint_id?: string;
  channels?: string[];
}

export async function mintToken(claims: TokenClaims, secret: string = LOCAL_DEV_SECRET, ttlSeconds = 3600): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const { sub, ...rest } = claims;
  return new SignJWT({ ...rest })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}

/** A mistake the user can fix: printed as one line, exit code 2. */
export class CliError extends Error {
  override name = 'CliError';
}

/** Runs a CLI's main, printing a one-line error instead of a stack trace. */
export function runCli(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${name}: ${message}\n`);
    if (process.env.SWITCHBOARD_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exit(err instanceof CliError ? 2 : 1);
  });
}

export function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Turns a connection failure into a hint that names what is probably not running. */
export function explainNetworkError(err: unknown, what: string, url: string | undefined): Error {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code;
  if (code === 'ECONNREFUSED' || e?.name === 'ECONNREFUSED') return new CliError(`cannot reach ${what} at ${url ?? '?'}: is \`npm start\` running?`);
  return err instanceof Error ? err : new Error(String(err));
}
