import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { signToken } from '../helpers/runtime';
import { REPO_ROOT, startRuntimeProcess, type RuntimeProcess } from './support/runtime-process';
import { Publisher, TestClient, type Frame } from './support/ws-client';

/**
 * Every documented publish, connect and poll command, run as written with the real tools (AWS CLI
 * v2, PHP with AsyncAws SNS, Node, curl, the npm scripts) against `npm start`'s runtime, with one
 * WebSocket subscriber that must receive what each publish sends.
 *
 * The commands are read from the docs, from the fenced block after each `<!-- tested: NAME -->`
 * marker, so a doc edit is tested as it is. What the test changes, and only that: the default ports
 * become the ones this runtime got; the idempotency id `booking-9-create` gets a suffix per example
 * (each example would otherwise be a duplicate of the first and, rightly, not be delivered again);
 * in deploy.md, the placeholders of the stack outputs become the local values. Composer's
 * `vendor/autoload.php` is a one-line shim loading Debian's php-async-aws-sns; the AWS SDK for PHP
 * (Composer only) is checked with `php -l`.
 */
jest.setTimeout(120_000);

const EXPECTED_BLOCKS = {
  'README.md': ['quickstart', 'readme-aws-cli'],
  'docs/local.md': ['cli-tools', 'aws-cli', 'php-async-aws', 'php-aws-sdk', 'node', 'poll'],
  'docs/deploy.md': ['smoke-test', 'deploy-aws-cli', 'deploy-node', 'deploy-php'],
};

interface Block {
  file: string;
  lang: string;
  code: string;
}

/** The fenced block after each `<!-- tested: NAME ... -->` marker, by NAME. */
function testedBlocks(file: string): Record<string, Block> {
  const lines = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8').split('\n');
  const blocks: Record<string, Block> = {};
  for (let i = 0; i < lines.length; i++) {
    const name = lines[i]!.match(/^<!-- tested: ([a-z0-9-]+)/)?.[1];
    if (!name) continue;
    let j = i + 1;
    while (lines[j]?.trim() === '') j++;
    const lang = lines[j]?.match(/^```(\w*)$/)?.[1];
    if (lang === undefined) throw new Error(`${file}: the marker "${name}" is not followed by a fenced code block`);
    const end = lines.indexOf('```', j + 1);
    blocks[name] = { file, lang, code: lines.slice(j + 1, end).join('\n') };
  }
  return blocks;
}

const blocks: Record<string, Block> = Object.assign({}, ...Object.keys(EXPECTED_BLOCKS).map(testedBlocks));

let rt: RuntimeProcess;
let work: string;
let env: NodeJS.ProcessEnv;
let subscriber: TestClient;
let publisher: Publisher;
const tails: ChildProcess[] = [];

/** The AWS CLI v2 (Debian's awscli); a v1 first on PATH (pip's) is passed over. */
function awsCliV2(): string {
  const which = spawnSync('bash', ['-c', 'type -ap aws'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const candidate of ['/usr/bin/aws', ...which]) {
    const v = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (!v.error && /^aws-cli\/2\./.test(`${v.stdout}${v.stderr}`)) return candidate;
  }
  throw new Error('the AWS CLI v2 is not installed: apt-get install awscli (.ci/run does)');
}

function requirePhp(): void {
  const modules = spawnSync('php', ['-m'], { encoding: 'utf8' });
  if (modules.error || !/^curl$/m.test(modules.stdout))
    throw new Error('PHP with curl is not installed: apt-get install php-cli php-curl (.ci/run does)');
  const asyncAws = spawnSync(
    'php',
    ['-r', "require 'AsyncAws/Sns/autoload.php'; echo class_exists('AsyncAws\\\\Sns\\\\SnsClient') ? 'ok' : 'no';"],
    { encoding: 'utf8' },
  );
  if (asyncAws.stdout !== 'ok')
    throw new Error('AsyncAws SNS for PHP is not installed: apt-get install php-async-aws-sns (.ci/run does)');
}

/** The docs' default local addresses → this runtime's; the shared idempotency id → one per example. */
function localize(code: string, example: string): string {
  const e = rt.endpoints;
  return code
    .replaceAll('http://127.0.0.1:4566', e.snsEndpoint)
    .replaceAll('http://127.0.0.1:3000', e.httpUrl)
    .replaceAll('ws://127.0.0.1:3001', e.websocketUrl)
    .replaceAll('booking-9-create', `booking-9-create-${example}`);
}

/** Shell commands of a block: comment lines dropped, `\` continuations joined. */
function commandsOf(code: string): string[] {
  return code
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
}

interface ShellRun {
  outputs: { command: string; stdout: string }[];
  tails: { command: string; output: () => string }[];
}

/**
 * Runs a documented shell block the way a user pastes it: line by line in bash, `VAR=$(...)` and
 * `VAR='...'` kept for the next lines, `npm run tail` left running (its own process group) until
 * the test is done with it.
 */
async function runShell(code: string): Promise<ShellRun> {
  const vars: Record<string, string> = {};
  const run: ShellRun = { outputs: [], tails: [] };
  for (const command of commandsOf(code)) {
    const assignment = command.match(/^([A-Z_]+)=(\$\(.*\)|'[^']*')\s*(#.*)?$/);
    if (assignment) {
      const r = spawnSync('bash', ['-c', `${assignment[1]}=${assignment[2]}; printf '%s' "$${assignment[1]}"`], {
        cwd: REPO_ROOT,
        env: { ...env, ...vars },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect({ command, status: r.status, stderr: r.stderr }).toEqual({ command, status: 0, stderr: '' });
      vars[assignment[1]!] = r.stdout;
      continue;
    }
    if (command.startsWith('npm run tail')) {
      const child = spawn('bash', ['-c', command], { cwd: REPO_ROOT, env: { ...env, ...vars }, detached: true });
      tails.push(child);
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const tail = { command, output: () => output };
      run.tails.push(tail);
      await waitFor(
        () => /connected to ws:\/\//.test(output),
        `${command} to connect`,
        () => output,
      );
      continue;
    }
    const r = spawnSync('bash', ['-c', command], {
      cwd: REPO_ROOT,
      env: { ...env, ...vars },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect({ command, status: r.status, stderr: r.stderr.replace(/^npm warn.*\n/gm, '') }).toEqual({
      command,
      status: 0,
      stderr: '',
    });
    run.outputs.push({ command, stdout: r.stdout });
  }
  return run;
}

async function waitFor(
  check: () => boolean,
  what: string,
  detail: () => string = () => '',
  timeoutMs = 20_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}: ${detail().slice(-1500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const eventWithId = (id: string) => (f: Frame) => f.type === 'event' && f.id === id;

beforeAll(async () => {
  const aws = awsCliV2();
  requirePhp();
  rt = await startRuntimeProcess();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-docs-'));
  fs.mkdirSync(path.join(work, 'bin'));
  fs.symlinkSync(aws, path.join(work, 'bin', 'aws'));
  const endpointsFile = path.join(work, 'endpoints.json');
  fs.writeFileSync(endpointsFile, JSON.stringify(rt.endpoints));
  env = {
    ...process.env,
    PATH: `${path.join(work, 'bin')}${path.delimiter}${process.env.PATH}`,
    SWITCHBOARD_LOCAL_ENDPOINTS_FILE: endpointsFile,
    // The docs' commands run with the user's shell; no AWS settings of this machine leak in.
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_CONFIG_FILE: path.join(work, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'no-aws-credentials'),
    AWS_REGION: '',
    AWS_PAGER: '',
    npm_config_update_notifier: 'false',
  };
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) delete env[k];
  subscriber = await TestClient.connect(rt.endpoints.websocketUrl, await signToken({ sub: 'docs', role: 'admin' }), {
    channels: 'specialist_2,workpoint_5,admin',
  });
  publisher = new Publisher(rt.endpoints);
}, 120_000);

afterAll(async () => {
  for (const t of tails) {
    try {
      process.kill(-t.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await subscriber?.close();
  publisher?.destroy();
  await rt?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** Stops a documented tail with Ctrl-C (SIGINT to its process group, as a terminal does); resolves when its output ends. */
async function stopTail(child: ChildProcess): Promise<void> {
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  process.kill(-child.pid!, 'SIGINT');
  await closed;
}

test('every tested block is where the docs say', () => {
  for (const [file, names] of Object.entries(EXPECTED_BLOCKS)) {
    expect(
      Object.entries(blocks)
        .filter(([, b]) => b.file === file)
        .map(([n]) => n),
    ).toEqual(names);
  }
});

test('README quick start: tail prints what publish sends', async () => {
  const run = await runShell(blocks.quickstart!.code);
  // `npm run` without -s prints its own two header lines first.
  expect(run.outputs.map((o) => o.stdout)).toEqual([
    expect.stringMatching(/^published [\w-]+ to arn:aws:sns:us-east-1:000000000000:switchboard$/m),
  ]);
  const frame = await subscriber.next(
    (f) => f.type === 'event' && f.event === 'hello' && JSON.stringify(f.data) === '{"hi":1}',
  );
  await waitFor(
    () => run.tails[0]!.output().includes(`"id":"${frame.id as string}"`),
    'the tail to print the event',
    run.tails[0]!.output,
  );
  await stopTail(tails[tails.length - 1]!);
  // Ctrl-C closes the WebSocket normally.
  expect(run.tails[0]!.output()).toContain('connection closed (1000 bye)');
});

test.each([['readme-aws-cli'], ['aws-cli']])('%s: the AWS CLI v2 publishes to the local topic', async (name) => {
  const run = await runShell(localize(blocks[name]!.code, name));
  const { MessageId } = JSON.parse(run.outputs[0]!.stdout) as { MessageId: string };
  expect(MessageId).toMatch(/^[\w-]{36}$/);
  const id = blocks[name]!.code.includes('"id":"booking-9-create"') ? `booking-9-create-${name}` : MessageId;
  const frame = await subscriber.next(eventWithId(id));
  expect(frame).toMatchObject({
    event: 'create',
    data: { booking_id: 9 },
    seqs: expect.objectContaining({ specialist_2: expect.any(Number), admin: expect.any(Number) }),
  });
});

test('PHP with AsyncAws SNS publishes as written', async () => {
  const dir = fs.mkdtempSync(path.join(work, 'php-'));
  fs.mkdirSync(path.join(dir, 'vendor'));
  // What `composer require async-aws/sns` would give: here, Debian's package.
  fs.writeFileSync(path.join(dir, 'vendor', 'autoload.php'), "<?php require 'AsyncAws/Sns/autoload.php';\n");
  fs.writeFileSync(path.join(dir, 'publish.php'), localize(blocks['php-async-aws']!.code, 'php'));
  const r = spawnSync('php', ['publish.php'], { cwd: dir, env, encoding: 'utf8', timeout: 30_000 });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(r.stdout).toMatch(/^[\w-]{36}\n$/);
  expect(await subscriber.next(eventWithId('booking-9-create-php'))).toMatchObject({
    event: 'create',
    data: { booking_id: 9 },
  });
});

test.each([['php-aws-sdk'], ['deploy-php']])('%s: the AWS SDK for PHP example is valid PHP (php -l)', (name) => {
  const file = path.join(work, `${name}.php`);
  fs.writeFileSync(file, blocks[name]!.code);
  const r = spawnSync('php', ['-l', file], { encoding: 'utf8' });
  expect(r.stdout).toContain('No syntax errors detected');
  expect(blocks[name]!.code).toMatch(/^<\?php\nrequire __DIR__ \. '\/vendor\/autoload\.php';/);
});

test('Node: the example runs as written (an ES module with its import)', async () => {
  const dir = fs.mkdtempSync(path.join(work, 'node-'));
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  fs.writeFileSync(path.join(dir, 'publish.mjs'), localize(blocks.node!.code, 'node'));
  const r = spawnSync(process.execPath, ['publish.mjs'], { cwd: dir, env, encoding: 'utf8', timeout: 30_000 });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(r.stdout).toMatch(/^[\w-]{36}\n$/);
  expect(await subscriber.next(eventWithId('booking-9-create-node'))).toMatchObject({
    event: 'create',
    data: { booking_id: 9 },
  });
});

test('deploy.md Node example is a valid ES module (node --check)', () => {
  const file = path.join(work, 'deploy-node.mjs');
  fs.writeFileSync(file, blocks['deploy-node']!.code);
  expect(spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' }).status).toBe(0);
});

test('polling with curl: /version and /events answer for what was published', async () => {
  const { id } = await publisher.publish(['specialist_2'], 'poll-check', { n: 1 }, `poll-${randomUUID()}`);
  await subscriber.next(eventWithId(id));
  const run = await runShell(localize(blocks.poll!.code, 'poll'));
  const [version, events] = run.outputs.map(
    (o) => JSON.parse(o.stdout) as { versions: Record<string, number>; events: Frame[] },
  );
  expect(version!.versions.specialist_2).toBeGreaterThan(0);
  expect(version!.versions).toHaveProperty('admin');
  expect(events).toMatchObject({ channel: 'specialist_2', reset: false });
  expect(events!.events.map((e) => e.id)).toContain(id);
});

test('CLI tools block: token, publish with --id, tail live and tail --since replaying', async () => {
  const run = await runShell(localize(blocks['cli-tools']!.code, 'cli'));
  const [token2, published] = run.outputs.map((o) => o.stdout);
  expect(token2).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
  expect(published).toMatch(/^published [\w-]+ to arn:aws:sns:/m);
  await subscriber.next(eventWithId('booking-9'));
  const [live, replay] = run.tails;
  // --since 0 replays the retained events of specialist_2, booking-9 among them.
  await waitFor(
    () => replay!.output().includes('"id":"booking-9"'),
    'the --since tail to replay booking-9',
    replay!.output,
  );
  // The live tail prints what is published from now on.
  const { id } = await publisher.publish(['admin'], 'after', { n: 2 }, `after-${randomUUID()}`);
  await waitFor(() => live!.output().includes(`"id":"${id}"`), 'the live tail to print a new event', live!.output);
  for (const child of tails.slice(-2)) await stopTail(child);
  for (const t of run.tails) expect(t.output()).toContain('connection closed (1000 bye)');
});

test('deploy.md smoke test, against the local runtime (outputs replaced by local values)', async () => {
  const code = blocks['smoke-test']!.code.replace("HTTP_URL='<HttpUrl>'", `HTTP_URL='${rt.endpoints.httpUrl}/'`)
    .replace("TOPIC_ARN='<TopicArn>'", `TOPIC_ARN='${rt.endpoints.topicArn}'`)
    .replace(/^SECRET=\$\(aws secretsmanager .*\)$/m, `SECRET='${rt.endpoints.jwtSecret}'`);
  expect(code).not.toMatch(/<[A-Za-z]+>/);
  // The publish goes to the topic ARN given; the endpoint is the only local part.
  const saved = env;
  env = {
    ...env,
    SWITCHBOARD_SNS_ENDPOINT: rt.endpoints.snsEndpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  };
  try {
    const run = await runShell(code);
    const [health, version, published] = run.outputs.map((o) => o.stdout);
    expect(JSON.parse(health!)).toEqual({ ok: true });
    expect(JSON.parse(version!)).toEqual({ versions: { specialist_2: expect.any(Number) } });
    const messageId = published!.match(/^published ([\w-]+) to /m)?.[1];
    expect(messageId).toBeDefined();
    expect(await subscriber.next(eventWithId(messageId!))).toMatchObject({ event: 'create', data: { booking_id: 9 } });
  } finally {
    env = saved;
  }
});

test('deploy.md AWS CLI publish, pointed at the local endpoint', async () => {
  const code = blocks['deploy-aws-cli']!.code.replace("'<TopicArn>'", rt.endpoints.topicArn).replace(
    'aws sns publish',
    `AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws sns publish --endpoint-url ${rt.endpoints.snsEndpoint} --region us-east-1`,
  );
  const run = await runShell(code);
  const { MessageId } = JSON.parse(run.outputs[0]!.stdout) as { MessageId: string };
  expect(await subscriber.next(eventWithId(MessageId))).toMatchObject({ event: 'create', data: { booking_id: 9 } });
});
