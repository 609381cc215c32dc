import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { CliError, endpointsFile, readEndpoints, runCli, splitList } from './common';
import { TOKEN_OPTIONS, tokenFromFlags } from './token-flags';

/**
 * `npm run tail -- --role admin --channels admin,specialist_2` (or `--token T --channels a,b`)
 * connects to the WebSocket, subscribes to each channel (with `--since N`, replaying what it
 * missed) and prints every frame as it arrives, one JSON line each. The token is minted from the
 * token flags (see `npm run token`) unless --token is given; `--ws-url` (or SWITCHBOARD_WS_URL)
 * points at a deployed stack. Ctrl-C stops.
 */
const USAGE =
  'usage: npm run tail -- --channels a,b [--token JWT | --role R --sub ID --specialist-id N --workpoint-id N] [--since N] [--ws-url URL] [--raw]';

runCli('tail', async () => {
  let values;
  try {
    values = parseArgs({
      options: {
        ...TOKEN_OPTIONS,
        token: { type: 'string' },
        channels: { type: 'string' },
        since: { type: 'string' },
        'ws-url': { type: 'string' },
        raw: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  const channels = splitList(values.channels);
  if (channels.length === 0) throw new CliError(`--channels is required\n${USAGE}`);
  const since = values.since === undefined ? undefined : Number(values.since);
  if (since !== undefined && (!Number.isInteger(since) || since < 0)) throw new CliError('--since must be a non-negative integer');
  const wsUrl = values['ws-url'] ?? process.env.SWITCHBOARD_WS_URL ?? readEndpoints(endpointsFile(values['endpoints-file']))?.websocketUrl;
  if (!wsUrl) throw new CliError('no WebSocket URL: start the local runtime (`npm start`) or pass --ws-url');
  const token = values.token ?? (await tokenFromFlags(values));
  await tail(`${wsUrl}${wsUrl.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`, wsUrl, channels, since, Boolean(values.raw));
});

function tail(url: string, shownUrl: string, channels: string[], since: number | undefined, raw: boolean): Promise<void> {
  return new Promise((_resolve, reject) => {
    const ws = new WebSocket(url);
    const print = (text: string) => process.stdout.write(raw ? `${text}\n` : `${new Date().toISOString().slice(11, 23)} ${text}\n`);
    ws.on('unexpected-response', (_req, res) => {
      const why: Record<number, string> = { 401: 'the token was refused', 403: 'a channel is forbidden for this token', 400: 'bad request' };
      reject(new CliError(`the handshake failed with HTTP ${res.statusCode}${why[res.statusCode ?? 0] ? ` (${why[res.statusCode ?? 0]})` : ''}`));
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ECONNREFUSED' ? new CliError(`cannot reach ${shownUrl}: is \`npm start\` running?`) : err);
    });
    ws.on('open', () => {
      if (!raw) process.stderr.write(`connected to ${shownUrl}; subscribing to ${channels.join(', ')} (Ctrl-C stops)\n`);
      for (const channel of channels) ws.send(JSON.stringify({ action: 'subscribe', channel, ...(since !== undefined && { since }) }));
    });
    ws.on('message', (data) => print(data.toString()));
    ws.on('close', (code, reason) => {
      process.stderr.write(`connection closed (${code}${reason.length ? ` ${reason.toString()}` : ''})\n`);
      process.exit(code === 1000 ? 0 : 1);
    });
    process.on('SIGINT', () => ws.close(1000, 'bye'));
  });
}
