import fs from 'node:fs';
import path from 'node:path';
import { CLIENT_ACTIONS, FUNCTIONS, routeKeyFor, WEBSOCKET_ROUTES } from '../../shared/routes';

describe('the route table', () => {
  test('every client action has its own route; the rest go to $default', () => {
    for (const action of CLIENT_ACTIONS) expect(WEBSOCKET_ROUTES).toHaveProperty(action);
    expect(routeKeyFor('subscribe')).toBe('subscribe');
    expect(routeKeyFor('publish')).toBe('$default');
    expect(routeKeyFor(undefined)).toBe('$default');
    expect(routeKeyFor('$connect')).toBe('$default');
  });

  test('every function named by a route exists and exports a handler', () => {
    for (const name of new Set(Object.values(WEBSOCKET_ROUTES))) expect(FUNCTIONS).toContain(name);
    for (const name of FUNCTIONS) {
      expect(fs.existsSync(path.join(__dirname, '../../functions', `${name}.ts`))).toBe(true);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      expect(typeof (require(`../../functions/${name}`) as { handler?: unknown }).handler).toBe('function');
    }
  });
});
