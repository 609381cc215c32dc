import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHttpHandler } from '../../functions/http';
import { startHttpApi, type LocalHttpApi } from '../../local/http-api';
import { testConfig } from '../helpers/config';
import { runtimeFrom } from '../../shared/runtime';
import { RecordingTelemetry } from '../../shared/telemetry';

/**
 * The local HTTP API does what the stack's `$default` route does: whatever no route matches (and is
 * not a local-only extra: the demo backend, a file of the demo page) reaches the http handler, which
 * answers the contract's 404 `not_found` with CORS headers (protocol §5), never a bare `Not Found`.
 */
let api: LocalHttpApi;
let publicDir: string;

beforeAll(async () => {
  publicDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-public-'));
  fs.writeFileSync(path.join(publicDir, 'index.html'), '<h1>demo</h1>');
  const telemetry = new RecordingTelemetry();
  const rt = runtimeFrom({
    config: testConfig({ corsOrigins: ['https://app.example.com'] }),
    log: telemetry,
    metrics: telemetry,
  });
  api = await startHttpApi({ port: 0, handler: createHttpHandler(async () => rt), publicDir });
  api.mount(async (req, res) => {
    if (req.url !== '/demo/ping') return false;
    res.end('pong');
    return true;
  });
});

afterAll(async () => {
  await api.stop();
  fs.rmSync(publicDir, { recursive: true, force: true });
});

const origin = { origin: 'https://app.example.com' };

test.each([
  ['GET', '/no/such/path'],
  ['POST', '/version'],
  ['DELETE', '/events'],
  ['HEAD', '/nothing-here'],
])('%s %s: 404 not_found with CORS headers, from the http handler', async (method, route) => {
  const res = await fetch(`${api.url}${route}`, { method, headers: origin });
  expect(res.status).toBe(404);
  expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
  expect(res.headers.get('content-type')).toBe('application/json');
  if (method !== 'HEAD')
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: expect.stringContaining(route) } });
});

test('a preflight for any path is answered by the handler (OPTIONS /{proxy+})', async () => {
  const res = await fetch(`${api.url}/no/such/path`, {
    method: 'OPTIONS',
    headers: { ...origin, 'access-control-request-method': 'GET' },
  });
  expect(res.status).toBe(204);
  expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
  expect(res.headers.get('access-control-allow-methods')).toContain('GET');
});

test('local-only extras still come first: the demo page and mounted routes', async () => {
  expect(await (await fetch(`${api.url}/`)).text()).toBe('<h1>demo</h1>');
  expect(await (await fetch(`${api.url}/demo/ping`)).text()).toBe('pong');
  expect(await (await fetch(`${api.url}/health`)).json()).toEqual({ ok: true });
});
