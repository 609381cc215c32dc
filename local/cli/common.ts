import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
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

export { mintToken, type TokenClaims } from '../tokens';

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

/** A CLI's options: parseArgs' own, plus a word on the value for messages. */
export type CliOptions = Record<string, { type: 'string' | 'boolean'; short?: string; value?: string }>;

/**
 * parseArgs, with its errors said in our words (one line, then the usage). Node's own texts talk
 * about "ambiguous" arguments when a value starts with "-" (`--since -1`); here an option that
 * takes a value and is followed by something that looks like an option is reported with the
 * value it got, so the option's own check can say what is wrong with it.
 */
export function parseCli(
  options: CliOptions,
  usage: string,
  args: string[] = process.argv.slice(2),
): Record<string, string | boolean | undefined> {
  const spec = Object.fromEntries(
    Object.entries(options).map(([k, o]) => [k, { type: o.type, ...(o.short && { short: o.short }) }]),
  );
  const fixed: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string') {
      const next = args[i + 1];
      const isOption =
        next !== undefined && (next === '-h' || (next.startsWith('--') && next.slice(2).split('=')[0]! in options));
      if (next === undefined || isOption)
        throw new CliError(
          `--${name} needs a value${options[name]?.value ? ` (${options[name]?.value})` : ''}\n${usage}`,
        );
      // A value that starts with "-" is taken as the value, as the user meant it (`--since -1`).
      fixed.push(`--${name}=${next}`);
      i++;
      continue;
    }
    fixed.push(arg);
  }
  try {
    return parseArgs({ args: fixed, options: spec, strict: true, allowPositionals: false }).values;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const unknown = e.message?.match(/Unknown option '([^']+)'/)?.[1];
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new CliError(`unknown option ${unknown ?? ''}\n${usage}`);
    const positional = e.message?.match(/Unexpected argument '([^']+)'/)?.[1];
    if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
      throw new CliError(`unexpected argument "${positional ?? ''}" (every value follows its --option)\n${usage}`);
    throw new CliError(`${e.message ?? String(err)}\n${usage}`);
  }
}

/** The usage line's option list, from the options themselves: `--help` can never miss one. */
export function usageOf(command: string, options: CliOptions, lead = ''): string {
  const parts = Object.entries(options).map(([k, o]) =>
    o.type === 'boolean' ? `[--${k}]` : `[--${k} ${o.value ?? 'VALUE'}]`,
  );
  return `usage: ${command}${lead ? ` ${lead}` : ''} ${parts.join(' ')}`;
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
  if (code === 'ECONNREFUSED' || e?.name === 'ECONNREFUSED')
    return new CliError(`cannot reach ${what} at ${url ?? '?'}: is \`npm start\` running?`);
  return err instanceof Error ? err : new Error(String(err));
}
