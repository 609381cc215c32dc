import type { RuntimeEvent } from '../../local/runtime';
import { signToken } from '../helpers/runtime';
import { startRuntimeProcess, type RuntimeProcess } from './support/runtime-process';
import { TestClient } from './support/ws-client';

/**
 * API Gateway's idle timeout (10 min) and maximum connection age (2 h), shortened through
 * SWITCHBOARD_LOCAL_IDLE_TIMEOUT_MS / SWITCHBOARD_LOCAL_MAX_AGE_MS.
 */
jest.setTimeout(30_000);

const IDLE_MS = 1200;
const MAX_AGE_MS = 3500;
let rt: RuntimeProcess;

beforeAll(async () => {
  rt = await startRuntimeProcess({
    SWITCHBOARD_LOCAL_IDLE_TIMEOUT_MS: String(IDLE_MS),
    SWITCHBOARD_LOCAL_MAX_AGE_MS: String(MAX_AGE_MS),
  });
}, 90_000);

afterAll(async () => {
  await rt?.stop();
});

const disconnected = (connectionId: string) =>
  rt.waitForEvent<Extract<RuntimeEvent, { type: 'disconnected' }>>(
    (e) => e.type === 'disconnected' && e.connectionId === connectionId,
    10_000,
    `$disconnect of ${connectionId}`,
  );

test('an idle connection is closed with 1001 after the idle timeout, and $disconnect runs', async () => {
  const c = await TestClient.connect(rt.endpoints.websocketUrl, await signToken({ sub: 'idle' }));
  const id = await rt.connectionIdOf(c.tag);
  const opened = Date.now();
  const { code } = await c.closed;
  expect(code).toBe(1001);
  expect(Date.now() - opened).toBeGreaterThanOrEqual(IDLE_MS - 100);
  expect(await disconnected(id)).toMatchObject({ statusCode: 1001, reason: 'Going away' });
});

test('client frames keep a connection alive past the idle timeout, until the maximum age closes it', async () => {
  const c = await TestClient.connect(rt.endpoints.websocketUrl, await signToken({ sub: 'busy' }));
  const id = await rt.connectionIdOf(c.tag);
  const opened = Date.now();
  // Activity is the point of this test: a ping every 400 ms, well inside the idle timeout.
  let n = 0;
  const timer = setInterval(() => c.send({ action: 'ping', id: String(++n) }), 400);
  try {
    const { code } = await c.closed;
    expect(code).toBe(1001);
  } finally {
    clearInterval(timer);
  }
  const lived = Date.now() - opened;
  expect(lived).toBeGreaterThanOrEqual(MAX_AGE_MS - 100);
  expect(lived).toBeLessThan(MAX_AGE_MS + 2000);
  expect(n).toBeGreaterThan(3);
  await disconnected(id);
});
