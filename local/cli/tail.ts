import WebSocket from 'ws';
import {
  CliError,
  endpointsFile,
  parseCli,
  readEndpoints,
  runCli,
  splitList,
  usageOf,
  type CliOptions,
} from './common';
import { TOKEN_OPTIONS, tokenFromFlags, type TokenFlags } from './token-flags';

/**
 * `npm run tail -- --role admin --channels admin,specialist_2` (or `--token T --channels a,b`)
 * connects to the WebSocket, subscribes to each channel (with `--since N`, replaying what it
 * missed) and prints every frame as it arrives, one JSON line each. The token is minted from the
 * token flags (see `npm run token`) unless --token is given; `--ws-url` (or SWITCHBOARD_WS_URL)
 * points at a deployed stack. Ctrl-C stops.
 */
const OPTIONS = {
  channels: { type: 'string', value: 'a,b' },
  token: { type: 'string', value: 'JWT' },
  since: { type: 'string', value: 'SEQ' },
  'ws-url': { type: 'string', value: 'wss://...' },
  raw: { type: 'boolean' },
  ...TOKEN_OPTIONS,
  help: { type: 'boolean', short: 'h' },
} as const satisfies CliOptions;
const USAGE = usageOf('npm run tail --', OPTIONS);

type TailFlags = TokenFlags & {
  channels?: string;
  token?: string;
  since?: string;
  'ws-url'?: string;
  raw?: boolean;
  help?: boolean;
};

runCli('tail', async () => {
  const values = parseCli(OPTIONS, USAGE) as TailFlags;
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  const channels = splitList(values.channels);
  if (channels.length === 0) throw new CliError(`--channels is required (comma-separated channel names)\n${USAGE}`);
  const since =
    values.since === undefined ? undefined : /^\d{1,15}$/.test(values.since) ? Number(values.since) : undefined;
  if (values.since !== undefined && since === undefined) {
    throw new CliError(
      `--since must be a non-negative integer (the last seq you have; 0 replays all that is retained), got "${values.since}"`,
    );
  }
  const wsUrl =
    values['ws-url'] ??
    process.env.SWITCHBOARD_WS_URL ??
    readEndpoints(endpointsFile(values['endpoints-file']))?.websocketUrl;
  if (!wsUrl) throw new CliError('no WebSocket URL: start the local runtime (`npm start`) or pass --ws-url');
  checkWsUrl(wsUrl);
  const token = values.token ?? (await tokenFromFlags(values));
  await tail(
    `${wsUrl}${wsUrl.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`,
    wsUrl,
    channels,
    since,
    Boolean(values.raw),
  );
});

/** A WebSocket URL, not the HTTP API's: an http(s) URL would answer the handshake with a page. */
function checkWsUrl(url: string): void {
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    throw new CliError(`--ws-url is not a URL: "${url}"`);
  }
  if (scheme === 'ws:' || scheme === 'wss:') return;
  const hint =
    scheme === 'http:' || scheme === 'https:'
      ? " (an HTTP URL, perhaps the HTTP API's; the WebSocket URL is websocketUrl in .local/endpoints.json, or the stack's WebSocketUrl output)"
      : '';
  throw new CliError(`--ws-url must be a ws:// or wss:// URL, got "${url}"${hint}`);
}

function tail(
  url: string,
  shownUrl: string,
  channels: string[],
  since: number | undefined,
  raw: boolean,
): Promise<void> {
  return new Promise((_resolve, reject) => {
    const ws = new WebSocket(url);
    const print = (text: string) =>
      process.stdout.write(raw ? `${text}\n` : `${new Date().toISOString().slice(11, 23)} ${text}\n`);
    let opened = false;
    // ws emits `error` and then `close` in the same tick when it cannot connect: the first reason
    // seen is the one reported, and a connection that never opened ends through it, not through the
    // close handler's plain "connection closed (1006)".
    let failure: Error | undefined;
    const fail = (err: Error) => {
      failure ??= err;
    };
    ws.on('unexpected-response', (_req, res) => {
      const why: Record<number, string> = {
        401: 'the token was refused',
        403: 'a channel is forbidden for this token',
        400: 'bad request (an invalid channel name?)',
      };
      const status = res.statusCode ?? 0;
      fail(
        new CliError(
          `the WebSocket handshake with ${shownUrl} failed with HTTP ${status}${why[status] ? ` (${why[status]})` : ''}`,
        ),
      );
      ws.terminate();
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      const refused =
        err.code === 'ECONNREFUSED' || (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
      fail(refused ? new CliError(`cannot reach ${shownUrl}: is \`npm start\` running?`) : err);
    });
    ws.on('open', () => {
      opened = true;
      if (!raw)
        process.stderr.write(`connected to ${shownUrl}; subscribing to ${channels.join(', ')} (Ctrl-C stops)\n`);
      for (const channel of channels)
        ws.send(JSON.stringify({ action: 'subscribe', channel, ...(since !== undefined && { since }) }));
    });
    ws.on('message', (data: Buffer) => print(data.toString())); // binaryType "nodebuffer": one Buffer per frame
    ws.on('close', (code, reason) => {
      if (!opened)
        return reject(failure ?? new CliError(`the connection to ${shownUrl} closed before it opened (${code})`));
      process.stderr.write(`connection closed (${code}${reason.length ? ` ${reason.toString()}` : ''})\n`);
      process.exit(code === 1000 ? 0 : 1);
    });
    process.on('SIGINT', () => ws.close(1000, 'bye'));
  });
}
