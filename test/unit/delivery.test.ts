import { deliver } from '../../shared/delivery';
import type { Poster } from '../../shared/management-api';

/** `deliver()` (shared/delivery.ts): which failures are retried. */
const error = (name: string, status?: number) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

function poster(failures: Record<string, Error[]>): Poster & { attempts: string[] } {
  const attempts: string[] = [];
  return {
    attempts,
    async post(connectionId) {
      attempts.push(connectionId);
      const next = failures[connectionId]?.shift();
      if (next) throw next;
    },
  };
}

const failures = () => ({
  throttled: [error('LimitExceededException', 429)],
  server: [error('InternalServerErrorException', 500)],
  timeout: [error('TimeoutError')],
  gone: [error('GoneException', 410)],
});
const targets = ['throttled', 'server', 'timeout', 'gone'].map((connectionId) => ({ connectionId, data: '{}' }));
const sleep = async () => undefined;

test('by default a full buffer, a 5xx and a timeout are retried; a 410 is reported gone', async () => {
  const p = poster(failures());
  const r = await deliver(p, targets, { concurrency: 4, sleep });
  expect(r).toMatchObject({ delivered: 3, gone: ['gone'], failed: [], retries: 3, posts: 7 });
});

test("retry: ['throttled'] (frames that must not arrive twice): only a full buffer is retried", async () => {
  const p = poster(failures());
  const r = await deliver(p, targets, { concurrency: 4, sleep, retry: ['throttled'] });
  expect(r.delivered).toBe(1);
  expect(r.failed.map((f) => f.connectionId).sort()).toEqual(['server', 'timeout']);
  expect(r.gone).toEqual(['gone']);
  expect(p.attempts.filter((id) => id === 'timeout')).toHaveLength(1);
});
