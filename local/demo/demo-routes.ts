import { build } from 'esbuild';
import { common } from '../../client/build';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mintToken } from '../tokens';
import type { TokenVerifier } from '../../shared/tokens';
import { BookingService, DemoError, SPECIALISTS, scalarText, type BookingDeps } from './bookings';

/**
 * HTTP routes of the demo booking page (the page itself is local/public/index.html, served as a static
 * file), mounted by the local runtime's HTTP server only: the client bundle and the demo backend. The
 * token endpoint exists in local mode alone and never in the CDK stack.
 */
/** Who the demo lets you be; `name` is the display name others see in presence (protocol §8). */
export const PERSONAS: Record<string, { label: string; claims: Record<string, string | number> }> = {
  'specialist-1': {
    label: 'Specialist 1 (Dr. Ana Ribeiro)',
    claims: { role: 'specialist', specialist_id: 1, name: 'Dr. Ana Ribeiro' },
  },
  'specialist-2': {
    label: 'Specialist 2 (Dr. Ben Okafor)',
    claims: { role: 'specialist', specialist_id: 2, name: 'Dr. Ben Okafor' },
  },
  'supervisor-5': {
    label: 'Supervisor of workpoint 5',
    claims: { role: 'supervisor', workpoint_id: 5, name: 'Sofia Marques' },
  },
  admin: { label: 'Admin', claims: { role: 'admin', name: 'Alex Admin' } },
};

export interface DemoOptions extends BookingDeps {
  jwtSecret: string;
  verifier: TokenVerifier;
  /** What the page connects to. */
  websocketUrl: string;
  httpUrl: string;
}

export function createDemoRoutes(opts: DemoOptions) {
  const bookings = new BookingService(opts);
  let clientBundle: Promise<string> | undefined;
  const bundleClient = (): Promise<string> =>
    // The same build options as `npm run build:client` (client/build.ts), so the page runs what ships.
    (clientBundle ??= build({
      ...common,
      format: 'iife',
      globalName: 'Switchboard',
      write: false,
      logLevel: 'silent',
    }).then((r) => r.outputFiles[0]?.text ?? ''));

  async function identity(req: IncomingMessage) {
    const token = req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
    try {
      return await opts.verifier.verify(token);
    } catch {
      throw new DemoError(403, 'sign in again: the demo token is missing or expired');
    }
  }

  /** Handles the request when it is the demo's; false lets the caller route it elsewhere. */
  return async function handleDemo(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    try {
      if (method === 'GET' && url.pathname === '/switchboard.js') {
        send(res, 200, await bundleClient(), 'text/javascript; charset=utf-8');
        return true;
      }
      if (!url.pathname.startsWith('/demo/')) return false;
      if (method === 'GET' && url.pathname === '/demo/config') {
        json(res, 200, {
          websocketUrl: opts.websocketUrl,
          httpUrl: opts.httpUrl,
          specialists: SPECIALISTS,
          personas: Object.fromEntries(Object.entries(PERSONAS).map(([k, v]) => [k, v.label])),
        });
        return true;
      }
      if (method === 'POST' && url.pathname === '/demo/token') {
        const as = scalarText((await body(req)).as);
        const persona = PERSONAS[as];
        if (!persona) throw new DemoError(400, `unknown persona "${as}"; choose ${Object.keys(PERSONAS).join(', ')}`);
        const token = await mintToken({ ...persona.claims, sub: as }, opts.jwtSecret, 8 * 3600);
        json(res, 200, { token, persona: as, claims: persona.claims });
        return true;
      }
      const m = url.pathname.match(/^\/demo\/bookings(?:\/([A-Za-z0-9-]{1,64}))?$/);
      if (m) {
        const who = await identity(req);
        const id = m[1];
        if (method === 'GET' && !id) json(res, 200, { bookings: await bookings.list(who) });
        else if (method === 'POST' && !id) json(res, 201, { booking: await bookings.create(who, await body(req)) });
        else if (method === 'PUT' && id) json(res, 200, { booking: await bookings.update(who, id, await body(req)) });
        else if (method === 'DELETE' && id) json(res, 200, { booking: await bookings.remove(who, id) });
        else throw new DemoError(404, `no demo route for ${method} ${url.pathname}`);
        return true;
      }
      throw new DemoError(404, `no demo route for ${method} ${url.pathname}`);
    } catch (err) {
      if (err instanceof DemoError) json(res, err.status, { error: { message: err.message } });
      else json(res, 500, { error: { message: 'the demo backend failed; see the terminal' } });
      if (!(err instanceof DemoError))
        process.stderr.write(`demo backend error: ${err instanceof Error ? err.message : String(err)}\n`);
      return true;
    }
  };
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 16 * 1024) throw new DemoError(400, 'request body too large');
    chunks.push(c);
  }
  if (size === 0) return {};
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new DemoError(400, 'request body must be a JSON object');
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), 'application/json');
}

function send(res: ServerResponse, status: number, payload: string | Buffer, type: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(payload);
}
