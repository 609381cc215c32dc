import type { Page } from 'playwright-core';
import { freePort } from '../../local/dynamodb-local';
import { runtimeAndChromiumForFile } from './support/chromium';
import { TcpProxy } from './support/tcp-proxy';

/**
 * The demo booking page in real headless Chromium against the local runtime. Waits are for DOM
 * state, never for time; their timeouts are generous because this runs on a busy 2-core machine
 * (how fast an event reaches the page is measured by `npm run bench`, not asserted here).
 */
jest.setTimeout(120_000);
const UI_TIMEOUT = 20_000;

const pages: Page[] = [];
const e2e = runtimeAndChromiumForFile();
afterEach(async () => {
  await Promise.all(pages.splice(0).map((p) => p.close()));
});

async function open(as: string, query: Record<string, string> = {}): Promise<Page> {
  const page = await e2e.browser.newPage();
  pages.push(page);
  page.on('pageerror', (e) => process.stderr.write(`page error (${as}): ${e.message}\n`));
  await page.goto(`${e2e.rt.endpoints.httpUrl}/?${new URLSearchParams({ as, ...query }).toString()}`);
  return page;
}

/** The page has loaded its list from the channel's starting point: every later change arrives as an event. */
const loaded = (page: Page) =>
  page.waitForSelector('[data-testid=booking-list][data-loaded=true]', { state: 'attached', timeout: UI_TIMEOUT });
const status = (page: Page, state: string) =>
  page.waitForSelector(`[data-testid=status][data-state=${state}]`, { timeout: UI_TIMEOUT });
const booking = (page: Page, customer: string) => page.locator('[data-testid=booking]', { hasText: customer });

async function book(page: Page, customer: string, specialistId?: string): Promise<string> {
  await page.fill('[data-testid=customer]', customer);
  if (specialistId) await page.selectOption('[data-testid=specialist]', specialistId);
  await page.click('[data-testid=create]');
  await booking(page, customer).waitFor({ timeout: UI_TIMEOUT });
  return (await booking(page, customer).getAttribute('data-booking-id')) as string;
}

/** Books through the demo backend directly, as another receptionist would. */
async function bookViaApi(as: string, customer: string, specialistId: string): Promise<string> {
  const { token } = (await (
    await fetch(`${e2e.rt.endpoints.httpUrl}/demo/token`, { method: 'POST', body: JSON.stringify({ as }) })
  ).json()) as { token: string };
  const r = await fetch(`${e2e.rt.endpoints.httpUrl}/demo/bookings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify({ customer, time: '12:00', specialistId }),
  });
  if (r.status !== 201) throw new Error(`booking failed: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { booking: { id: string } }).booking.id;
}

const seenIds = (page: Page) => page.evaluate(() => (globalThis as unknown as { __eventIds: string[] }).__eventIds);
const seenStates = (page: Page) => page.evaluate(() => (globalThis as unknown as { __states: string[] }).__states);

describe('live booking page', () => {
  test('a booking shows up live in the pages whose role may see it, and never in the others; update and delete too', async () => {
    const [admin, spec1, spec2, supervisor] = await Promise.all([
      open('admin'),
      open('specialist-1'),
      open('specialist-2'),
      open('supervisor-5'),
    ]);
    await Promise.all([admin, spec1, spec2, supervisor].map((p) => status(p, 'live').then(() => loaded(p))));
    expect(await admin.getAttribute('[data-testid=status]', 'title')).toMatch(/live/);

    const id = await book(admin, 'Maria Lopez', '1');
    await booking(spec1, 'Maria Lopez').waitFor({ timeout: UI_TIMEOUT });
    await booking(supervisor, 'Maria Lopez').waitFor({ timeout: UI_TIMEOUT });
    // A later booking for specialist 2 reaches spec2; by then Maria's (published first) would have too.
    await book(spec2, 'Chen Li');
    await booking(admin, 'Chen Li').waitFor({ timeout: UI_TIMEOUT });
    expect(await booking(spec2, 'Maria Lopez').count()).toBe(0);
    expect(await booking(spec1, 'Chen Li').count()).toBe(0);

    // Update: move Maria one hour later from the specialist's own page.
    await spec1.locator(`[data-booking-id="${id}"] [data-testid=move]`).click();
    for (const p of [admin, supervisor, spec1])
      await p.locator(`[data-booking-id="${id}"] .time`, { hasText: '10:00' }).waitFor({ timeout: UI_TIMEOUT });

    // Delete from the supervisor's page: gone everywhere it was.
    await supervisor.locator(`[data-booking-id="${id}"] [data-testid=delete]`).click();
    for (const p of [admin, spec1, supervisor])
      await p.locator(`[data-booking-id="${id}"]`).waitFor({ state: 'detached', timeout: UI_TIMEOUT });

    // A page opened later loads the current list, filtered by the same rules.
    const late = await open('specialist-2');
    await booking(late, 'Chen Li').waitFor({ timeout: UI_TIMEOUT });
    expect(await late.locator('[data-testid=booking]').count()).toBe(1);
  });

  test('who is online: the admin and supervisor pages list the people on their channels; a specialist page opening and closing shows live', async () => {
    await e2e.rt.settle(); // the pages of earlier tests are gone
    const online = (page: Page, sub: string, channel: string) =>
      page.locator(`[data-testid=online-member][data-sub="${sub}"][data-channel="${channel}"]`);
    const [admin, supervisor] = await Promise.all([open('admin'), open('supervisor-5')]);
    await Promise.all([admin, supervisor].map((p) => status(p, 'live')));
    await online(admin, 'admin', 'admin').waitFor({ timeout: UI_TIMEOUT }); // itself
    await online(admin, 'supervisor-5', 'workpoint_5').waitFor({ timeout: UI_TIMEOUT });
    await online(supervisor, 'admin', 'workpoint_5').waitFor({ timeout: UI_TIMEOUT }); // the admin page follows every channel
    expect(await online(supervisor, 'supervisor-5', 'workpoint_5').textContent()).toBe('Sofia Marques');
    expect(await online(admin, 'specialist-1', 'specialist_1').count()).toBe(0);

    const specialist = await open('specialist-1');
    await status(specialist, 'live');
    await online(admin, 'specialist-1', 'specialist_1').waitFor({ timeout: UI_TIMEOUT });
    expect(await online(admin, 'specialist-1', 'specialist_1').textContent()).toBe('Dr. Ana Ribeiro');
    expect(await supervisor.locator('[data-testid=online-list] [data-channel^=specialist]').count()).toBe(0); // not a supervisor's channel

    await specialist.close();
    await online(admin, 'specialist-1', 'specialist_1').waitFor({ state: 'detached', timeout: UI_TIMEOUT });
    expect(await online(admin, 'supervisor-5', 'workpoint_5').count()).toBe(1);
  });

  test('the server drops the connection: yellow, reconnect, green, and events published meanwhile appear exactly once', async () => {
    const proxy = new TcpProxy(await freePort(), Number(new URL(e2e.rt.endpoints.websocketUrl).port));
    await proxy.up();
    try {
      const page = await open('admin', { ws: proxy.url, reconnectCap: '1000' });
      await status(page, 'live');
      await loaded(page);
      const before = e2e.rt.events
        .filter((e) => e.type === 'connected')
        .map((e) => (e as { connectionId: string }).connectionId);

      await proxy.down(); // the connection is cut and new ones are refused until it comes back
      await page.waitForSelector('[data-testid=status][data-color=yellow]', { timeout: UI_TIMEOUT });
      const ids = [await bookViaApi('admin', 'While Away 1', '2'), await bookViaApi('admin', 'While Away 2', '3')];
      await proxy.up();
      await status(page, 'live');
      for (const c of ['While Away 1', 'While Away 2']) await booking(page, c).waitFor({ timeout: UI_TIMEOUT });
      const delivered = await seenIds(page);
      for (const id of ids) expect(delivered.filter((e) => e.startsWith(`booking-${id}-create-`))).toHaveLength(1);
      expect(await seenStates(page)).toEqual(expect.arrayContaining(['live']));
      expect(e2e.rt.events.filter((e) => e.type === 'connected').length).toBeGreaterThan(before.length);
    } finally {
      await proxy.down();
    }
  });

  test('WebSockets blocked: the page polls (yellow) and still updates; when WebSockets come back it turns green', async () => {
    const proxy = new TcpProxy(await freePort(), Number(new URL(e2e.rt.endpoints.websocketUrl).port));
    try {
      const page = await open('specialist-2', { ws: proxy.url, poll: '500', reconnectCap: '1000' });
      await status(page, 'polling');
      await loaded(page);
      expect(await page.getAttribute('[data-testid=status]', 'data-color')).toBe('yellow');
      expect(await page.getAttribute('[data-testid=status]', 'title')).toMatch(/polling/);

      await bookViaApi('admin', 'Polled Patient', '2');
      await booking(page, 'Polled Patient').waitFor({ timeout: UI_TIMEOUT });

      await proxy.up();
      await status(page, 'live');
      expect(await page.getAttribute('[data-testid=status]', 'data-color')).toBe('green');
      await bookViaApi('admin', 'Live Again', '2');
      await booking(page, 'Live Again').waitFor({ timeout: UI_TIMEOUT });
      const states = await seenStates(page);
      expect(states.indexOf('polling')).toBeLessThan(states.lastIndexOf('live'));
    } finally {
      await proxy.down();
    }
  });
});
