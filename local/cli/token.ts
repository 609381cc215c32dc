import { parseCli, runCli, usageOf, type CliOptions } from './common';
import { TOKEN_OPTIONS, tokenFromFlags, type TokenFlags } from './token-flags';

/**
 * `TOKEN=$(npm run -s token -- --sub u1 --role admin --specialist-id 2 --workpoint-id 5 --channels 'a,b*' --ttl 3600)`
 * prints an HS256 token signed with the local secret (--secret, else SWITCHBOARD_JWT_SECRET, else
 * the one in .local/endpoints.json, else `local-dev-secret`). `--channels` is the token's
 * `channels` claim (names or `*` patterns it may hear beyond the built-in rules). `-s` keeps npm's
 * own header lines out of what `$(...)` captures.
 */
const OPTIONS = {
  ...TOKEN_OPTIONS,
  channels: { type: 'string', value: "'a,b*'" },
  help: { type: 'boolean', short: 'h' },
} as const satisfies CliOptions;
const USAGE = usageOf('npm run -s token --', OPTIONS);

runCli('token', async () => {
  const values = parseCli(OPTIONS, USAGE) as TokenFlags & { channels?: string; help?: boolean };
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  process.stdout.write(`${await tokenFromFlags(values, values.channels)}\n`);
});
