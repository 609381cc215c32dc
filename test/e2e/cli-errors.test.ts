import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { REPO_ROOT } from './support/runtime-process';

/**
 * The CLI tools as a new user meets them, with nothing running: each mistake gets one line in our
 * words (exit 2), never Node's parseArgs text or a bare close code. Started as `node --import tsx`
 * (what `npm run` runs) except where the exact npm form is what is documented.
 */
const cli = (tool: 'token' | 'publish' | 'tail', args: string[], env: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `local/cli/${tool}.ts`, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 30_000,
    env: {
      ...process.env,
      SWITCHBOARD_LOCAL_ENDPOINTS_FILE: path.join(REPO_ROOT, '.local', 'no-such-endpoints.json'),
      ...env,
    },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
};

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('tail with the runtime down says so, instead of "connection closed (1006)"', async () => {
  const port = await closedPort();
  const r = cli('tail', ['--channels', 'admin', '--role', 'admin', '--ws-url', `ws://127.0.0.1:${port}`]);
  expect(r).toMatchObject({
    status: 2,
    stderr: `tail: cannot reach ws://127.0.0.1:${port}: is \`npm start\` running?`,
  });
});

test('tail --ws-url http://... and --since -1 are explained in our words', () => {
  expect(cli('tail', ['--channels', 'a', '--ws-url', 'http://127.0.0.1:3000'])).toMatchObject({
    status: 2,
    stderr: expect.stringMatching(
      /^tail: --ws-url must be a ws:\/\/ or wss:\/\/ URL, got "http:\/\/127\.0\.0\.1:3000" \(an HTTP URL.*WebSocketUrl output\)$/,
    ),
  });
  for (const since of ['-1', 'abc', '1.5']) {
    expect(cli('tail', ['--channels', 'a', '--since', since, '--ws-url', 'ws://127.0.0.1:1'])).toMatchObject({
      status: 2,
      stderr: `tail: --since must be a non-negative integer (the last seq you have; 0 replays all that is retained), got "${since}"`,
    });
  }
  expect(cli('tail', ['--channels', '--since', '3'])).toMatchObject({
    status: 2,
    stderr: expect.stringMatching(/^tail: --channels needs a value \(a,b\)\nusage: /),
  });
});

test("token --sub '' is refused: the server would refuse the token", () => {
  expect(cli('token', ['--sub', ''])).toMatchObject({
    status: 2,
    stdout: '',
    stderr: expect.stringContaining('--sub must not be empty'),
  });
  expect(cli('token', ['--sub', '   '])).toMatchObject({ status: 2 });
  expect(cli('token', ['--sub', 'u1']).stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
});

test('publish --message mixed with the flags that build a message is refused, naming them', () => {
  const r = cli('publish', [
    '--message',
    '{"channels":["a"],"event":"x","data":null}',
    '--channels',
    'b',
    '--event',
    'y',
  ]);
  expect(r).toMatchObject({
    status: 2,
    stderr:
      'publish: --message is the whole message; it cannot be combined with --channels, --event (put them inside the JSON, or drop --message)',
  });
});

test('--help lists every option each tool accepts, --endpoints-file included; unknown options and stray words are named', () => {
  const sources = {
    token: ['token.ts', 'token-flags.ts'],
    publish: ['publish.ts'],
    tail: ['tail.ts', 'token-flags.ts'],
  } as const;
  for (const tool of Object.keys(sources) as (keyof typeof sources)[]) {
    const help = cli(tool, ['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--endpoints-file FILE');
    // Every option a tool declares shows up in its help (the usage line is built from them).
    const text = sources[tool].map((f) => fs.readFileSync(path.join(REPO_ROOT, 'local/cli', f), 'utf8')).join('\n');
    const declared = [...text.matchAll(/^\s+'?([a-z-]+)'?: \{ type: '(string|boolean)'/gm)].map((m) => m[1]);
    expect(declared.length).toBeGreaterThan(5);
    for (const option of declared) expect(`${tool}: ${help.stdout}`).toContain(`--${option}`);
    expect(cli(tool, ['--bogus'])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(new RegExp(`^${tool}: unknown option --bogus\\nusage: `)),
    });
  }
  expect(cli('publish', ['admin'])).toMatchObject({
    status: 2,
    stderr: expect.stringMatching(/^publish: unexpected argument "admin"/),
  });
});

test("the banner's token command works inside $(...) as printed", () => {
  const line = fs.readFileSync(path.join(REPO_ROOT, 'local/start.ts'), 'utf8').match(/'Make a token:\s+(.+)',$/m)?.[1];
  expect(line).toMatch(/^TOKEN=\$\(npm run -s token -- .+\)$/);
  const r = spawnSync('bash', ['-c', `${line}; printf '%s' "$TOKEN"`], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(r.stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
});
