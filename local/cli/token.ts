import { parseArgs } from 'node:util';
import { CliError, runCli } from './common';
import { TOKEN_OPTIONS, tokenFromFlags } from './token-flags';

/**
 * `npm run -s token -- --sub u1 --role admin --specialist-id 2 --workpoint-id 5 --channels 'a,b*' --ttl 3600`
 * prints an HS256 token signed with the local secret (--secret, else SWITCHBOARD_JWT_SECRET, else
 * the one in .local/endpoints.json, else `local-dev-secret`). `--channels` is the token's
 * `channels` claim (names or `*` patterns it may hear beyond the built-in rules).
 */
const USAGE = "usage: npm run -s token -- [--sub ID] [--role R] [--specialist-id N] [--workpoint-id N] [--channels 'a,b*'] [--ttl SECONDS] [--secret S]";

runCli('token', async () => {
  let values;
  try {
    values = parseArgs({ options: { ...TOKEN_OPTIONS, channels: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  process.stdout.write(`${await tokenFromFlags(values, values.channels)}\n`);
});
