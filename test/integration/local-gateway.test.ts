import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GoneException,
  LimitExceededException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { parseFaults, type FaultName, type Faults } from '../../local/faults';
import { startHttpApi, type LocalHttpApi } from '../../local/http-api';
import type { LambdaContext } from '../../local/lambda-invoker';
import { MAX_POST_BYTES, OUTBOUND_LIMIT_BYTES } from '../../local/management-api';
import {
  startWsGateway,
  type GatewayEvent,
  type GatewayOptions,
  type LambdaHandler,
  type WsGateway,
} from '../../local/ws-gateway';
import { FUNCTION_SETTINGS } from '../../shared/pipeline';

/**
 * The local API Gateway as AWS behaves (issue 10, section 6), with stand-in handlers and real
 * clients: a `ws` WebSocket and the real `@aws-sdk/client-apigatewaymanagementapi`.
 * - `@connections` POST is accepted once queued, 429 LimitExceededException when the connection's
 *   outbound buffer is full, 410 GoneException for unknown, closing, closed and not-yet-connected ids;
 * - the post_* faults at probability 1;
 * - function timeouts of `$connect`, message routes and the HTTP API.
 */
jest.setTimeout(60_000);

interface Harness {
  gateway: WsGateway;
  mgmt: ApiGatewayManagementApiClient;
  events: GatewayEvent[];
  /** The connection id of the client that connected with `x-test-client: <tag>`. */
  connectionIdOf(tag: string): Promise<string>;
  waitForEvent(pred: (e: GatewayEvent) => boolean, what: string): Promise<GatewayEvent>;
}

const harnesses: Harness[] = [];
const sockets: WebSocket[] = [];
const httpApis: LocalHttpApi[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  for (const h of harnesses.splice(0)) {
    h.mgmt.destroy();
    await h.gateway.stop();
  }
  for (const api of httpApis.splice(0)) await api.stop();
});

const ok: LambdaHandler = async () => ({ statusCode: 200 });

function managementClient(endpoint: string, requestHandler?: Record<string, unknown>): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    // A post that the gateway leaves unanswered would otherwise hang the test: 5 s is far above any
    // answer the tests expect.
    requestHandler: { requestTimeout: 5000, throwOnRequestTimeout: true, ...requestHandler },
  });
}

async function gatewayWith(opts: Partial<GatewayOptions> = {}): Promise<Harness> {
  const events: GatewayEvent[] = [];
  let waiters: { pred: (e: GatewayEvent) => boolean; resolve: (e: GatewayEvent) => void }[] = [];
  const gateway = await startWsGateway({
    port: 0,
    handlers: { connect: ok, disconnect: ok, message: ok, ...opts.handlers },
    ...opts,
    onEvent: (e) => {
      events.push(e);
      waiters = waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
    },
  });
  const waitForEvent = (pred: (e: GatewayEvent) => boolean, what: string): Promise<GatewayEvent> => {
    const seen = events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10_000);
      waiters.push({ pred, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  };
  const h: Harness = {
    gateway,
    mgmt: managementClient(gateway.managementEndpoint),
    events,
    waitForEvent,
    async connectionIdOf(tag) {
      const e = await waitForEvent(
        (ev) => ev.type === 'connected' && ev.headers['x-test-client'] === tag,
        `the connection of ${tag}`,
      );
      return (e as Extract<GatewayEvent, { type: 'connected' }>).connectionId;
    },
  };
  harnesses.push(h);
  return h;
}

interface Client {
  ws: WebSocket;
  tag: string;
  messages: string[];
  /** Resolves once `n` messages have arrived. */
  received(n: number): Promise<void>;
}

/** A WebSocket client that records every message; resolves once open. */
function connect(h: Harness): Promise<Client> {
  const tag = randomUUID();
  const ws = new WebSocket(h.gateway.url, { headers: { 'x-test-client': tag } });
  sockets.push(ws);
  const messages: string[] = [];
  let waiters: { n: number; resolve: () => void }[] = [];
  ws.on('message', (data) => {
    messages.push((data as Buffer).toString());
    waiters = waiters.filter((w) => (messages.length >= w.n ? (w.resolve(), false) : true));
  });
  const client: Client = {
    ws,
    tag,
    messages,
    received: (n) =>
      messages.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake rejected with HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** The HTTP status a handshake ends with (101 when it opens). */
function handshakeStatus(h: Harness): Promise<number> {
  const ws = new WebSocket(h.gateway.url);
  sockets.push(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(101));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', reject);
  });
}

const post = (h: Harness, connectionId: string, data: string | Buffer) =>
  h.mgmt.send(
    new PostToConnectionCommand({
      ConnectionId: connectionId,
      Data: typeof data === 'string' ? Buffer.from(data) : data,
    }),
  );

/** A Faults stand-in: the named faults always fire; random() is fixed. */
function always(names: FaultName[], random = 0.5): Faults {
  return {
    active: Object.fromEntries(names.map((n) => [n, 1])),
    roll: (name) => names.includes(name),
    random: () => random,
    describe: () => names.map((n) => `${n}=1`).join(', '),
  };
}

describe('@connections POST', () => {
  test('a post to a reader that stopped reading is accepted while queued, then refused with 429 LimitExceededException; the reader gets every accepted post in order', async () => {
    const h = await gatewayWith();
    const c = await connect(h);
    const id = await h.connectionIdOf(c.tag);
    // The client stops reading: the OS socket buffers fill, then the gateway's outbound buffer.
    (c.ws as unknown as { _socket: Socket })._socket.pause();
    const pad = 'x'.repeat(MAX_POST_BYTES - 100);
    let accepted = 0;
    let refused: unknown;
    // Bounded: loopback socket buffers hold a few MB at most; each accepted post is 128 KB.
    while (accepted < 2000) {
      try {
        await post(h, id, JSON.stringify({ n: accepted, pad }));
        accepted++;
      } catch (err) {
        refused = err;
        break;
      }
    }
    expect(refused).toBeInstanceOf(LimitExceededException);
    expect((refused as LimitExceededException).$metadata.httpStatusCode).toBe(429);
    // Every post before it was answered at once although nothing reached the client (no flush wait),
    // and at least the bound's worth was held back by the gateway itself.
    expect(c.messages).toHaveLength(0);
    expect(accepted * MAX_POST_BYTES).toBeGreaterThan(OUTBOUND_LIMIT_BYTES);
    // A second post is refused too while the reader is paused.
    await expect(post(h, id, '{"again":true}')).rejects.toBeInstanceOf(LimitExceededException);

    // Reading again drains everything that was accepted, in order, and posts are accepted again.
    (c.ws as unknown as { _socket: Socket })._socket.resume();
    await c.received(accepted);
    expect(c.messages.map((m) => (JSON.parse(m) as { n: number }).n)).toEqual([...Array(accepted).keys()]);
    await post(h, id, '{"after":true}');
    await c.received(accepted + 1);
    expect(c.messages[accepted]).toBe('{"after":true}');
  });

  test('410 GoneException for an unknown id, a closing connection and a closed one', async () => {
    const h = await gatewayWith();
    await expect(post(h, 'AAAAAAAAAAAAAAA=', '{}')).rejects.toBeInstanceOf(GoneException);

    // Closing: DeleteConnection has started the close; the client has not answered it yet.
    const a = await connect(h);
    const aId = await h.connectionIdOf(a.tag);
    await post(h, aId, '{"before":true}');
    await h.mgmt.send(new DeleteConnectionCommand({ ConnectionId: aId }));
    await expect(post(h, aId, '{"closing":true}')).rejects.toBeInstanceOf(GoneException);

    // Closed by the client, after its $disconnect ran.
    const b = await connect(h);
    const bId = await h.connectionIdOf(b.tag);
    b.ws.close(1000, 'bye');
    await h.waitForEvent((e) => e.type === 'disconnected' && e.connectionId === bId, `$disconnect of ${bId}`);
    await expect(post(h, bId, '{}')).rejects.toBeInstanceOf(GoneException);
  });

  test('a post before $connect has returned answers 410; once the handshake completed it is delivered', async () => {
    // eslint-disable-next-line prefer-const -- assigned after the gateway that the handler closes over starts
    let mgmt!: ApiGatewayManagementApiClient;
    let duringConnect: unknown;
    const h = await gatewayWith({
      handlers: {
        connect: async (event) => {
          const { connectionId } = (event as { requestContext: { connectionId: string } }).requestContext;
          duringConnect = await mgmt
            .send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from('{"early":true}') }))
            .catch((err: unknown) => err);
          return { statusCode: 200 };
        },
        disconnect: ok,
        message: ok,
      },
    });
    mgmt = h.mgmt;
    const c = await connect(h);
    expect(duringConnect).toBeInstanceOf(GoneException);
    await post(h, await h.connectionIdOf(c.tag), '{"late":true}');
    await c.received(1);
    expect(c.messages).toEqual(['{"late":true}']);
  });
});

describe('faults', () => {
  test('post_429=1: every post answers 429 LimitExceededException and nothing is sent', async () => {
    const h = await gatewayWith({ faults: parseFaults('post_429=1', '1') });
    const c = await connect(h);
    const id = await h.connectionIdOf(c.tag);
    const err = await post(h, id, '{}').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitExceededException);
    expect((err as LimitExceededException).$metadata.httpStatusCode).toBe(429);
    // The fault is rolled before the lookup, as throttling comes first on AWS.
    await expect(post(h, 'AAAAAAAAAAAAAAA=', '{}')).rejects.toBeInstanceOf(LimitExceededException);
    c.ws.send('{"action":"ping"}');
    expect(c.messages).toEqual([]);
  });

  test('post_5xx=1: every post answers 500 InternalServerErrorException', async () => {
    const h = await gatewayWith({ faults: parseFaults('post_5xx=1', '1') });
    const c = await connect(h);
    const err = (await post(h, await h.connectionIdOf(c.tag), '{}').catch((e: unknown) => e)) as {
      name: string;
      $metadata: { httpStatusCode?: number };
    };
    expect(err.name).toBe('InternalServerErrorException');
    expect(err.$metadata.httpStatusCode).toBe(500);
  });

  test("post_timeout=1: the post is never answered and the SDK's own requestTimeout ends it; stop() still closes everything", async () => {
    const h = await gatewayWith({ faults: parseFaults('post_timeout=1', '1') });
    const c = await connect(h);
    const id = await h.connectionIdOf(c.tag);
    const impatient = managementClient(h.gateway.managementEndpoint, {
      requestTimeout: 300,
      throwOnRequestTimeout: true,
    });
    try {
      const started = Date.now();
      const err = (await impatient
        .send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('{}') }))
        .catch((e: unknown) => e)) as Error;
      expect(err.name).toBe('TimeoutError');
      expect(err.message).toContain('300 ms requestTimeout');
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(c.messages).toEqual([]);
    } finally {
      impatient.destroy();
    }
    // A caller that never gives up: stop() ends its request instead of waiting for it.
    const patient = managementClient(h.gateway.managementEndpoint, { requestTimeout: 0, throwOnRequestTimeout: false });
    try {
      const hanging = patient
        .send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from('{}') }))
        .catch((e: unknown) => e);
      // The request reached the gateway and was left open.
      await h.waitForEvent(
        (e) =>
          e.type === 'fault' && e.fault === 'post_timeout' && h.events.filter((x) => x.type === 'fault').length === 2,
        'the second hung post',
      );
      await h.gateway.stop();
      const err = (await hanging) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toMatch(/socket hang up|ECONNRESET/);
    } finally {
      patient.destroy();
    }
  });

  test('post_timeout=1 against requestTimeout alone: this SDK only logs a warning and the post stays pending (throwOnRequestTimeout is needed)', async () => {
    const h = await gatewayWith({ faults: parseFaults('post_timeout=1', '1') });
    let warned!: (msg: string) => void;
    const warning = new Promise<string>((resolve) => (warned = resolve));
    const lenient = managementClient(h.gateway.managementEndpoint, {
      requestTimeout: 200,
      throwOnRequestTimeout: false,
      logger: { warn: (msg: string) => warned(msg) },
    });
    try {
      const pending = Symbol('pending');
      const outcome = lenient
        .send(new PostToConnectionCommand({ ConnectionId: 'AAAAAAAAAAAAAAA=', Data: Buffer.from('{}') }))
        .catch((e: unknown) => e);
      expect(await warning).toContain('exceeded the configured 200 ms requestTimeout');
      expect(await Promise.race([outcome, Promise.resolve(pending)])).toBe(pending);
      await h.gateway.stop();
      expect(((await outcome) as Error).message).toMatch(/socket hang up|ECONNRESET/);
    } finally {
      lenient.destroy();
    }
  });

  test('post_gone_at_connect=1: the handshake completes only 50 to 500 ms after $connect returned, and posts meanwhile answer 410', async () => {
    let returned!: (id: string) => void;
    const connectReturned = new Promise<string>((resolve) => (returned = resolve));
    const h = await gatewayWith({
      // random() 0.999: the longest hold (about 500 ms), so the test's post surely lands inside it.
      faults: always(['post_gone_at_connect'], 0.999),
      handlers: {
        connect: async (event) => {
          const { connectionId } = (event as { requestContext: { connectionId: string } }).requestContext;
          // Resolves after the handler's result was handed back to the gateway.
          setImmediate(() => returned(connectionId));
          return { statusCode: 200 };
        },
        disconnect: ok,
        message: ok,
      },
    });
    let openedAt = 0;
    const connecting = connect(h).then((c) => ((openedAt = Date.now()), c));
    const id = await connectReturned;
    const returnedAt = Date.now();
    const err = await post(h, id, '{"held":true}').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GoneException);
    expect(openedAt).toBe(0);
    const c = await connecting;
    expect(openedAt - returnedAt).toBeGreaterThanOrEqual(400);
    await post(h, id, '{"open":true}');
    await c.received(1);
    expect(c.messages).toEqual(['{"open":true}']);
  });

  test('post_gone_at_connect=1 from the spec parser: every accepted handshake is held at least 50 ms; a rejected one is not held', async () => {
    const returnedAt = new Map<string, number>();
    let reject = false;
    const h = await gatewayWith({
      faults: parseFaults('post_gone_at_connect=1', '42'),
      handlers: {
        connect: async (event) => {
          const { connectionId } = (event as { requestContext: { connectionId: string } }).requestContext;
          returnedAt.set(connectionId, Date.now());
          return { statusCode: reject ? 401 : 200 };
        },
        disconnect: ok,
        message: ok,
      },
    });
    for (let i = 0; i < 3; i++) {
      const c = await connect(h);
      const openedAt = Date.now();
      const id = await h.connectionIdOf(c.tag);
      expect(openedAt - (returnedAt.get(id) as number)).toBeGreaterThanOrEqual(45);
    }
    reject = true;
    expect(await handshakeStatus(h)).toBe(401);
    expect(h.events.filter((e) => e.type === 'fault' && e.fault === 'post_gone_at_connect')).toHaveLength(3);
  });
});

describe('function timeouts', () => {
  const never = (): Promise<unknown> => new Promise(() => undefined);

  test('handlers run with their function timeout from FUNCTION_SETTINGS (the Lambda context counts it down)', async () => {
    const remaining: Record<string, number> = {};
    let messageSeen!: () => void;
    const messageRan = new Promise<void>((resolve) => (messageSeen = resolve));
    const record =
      (fn: string): LambdaHandler =>
      async (_event, context?: LambdaContext) => {
        remaining[fn] = context?.getRemainingTimeInMillis() ?? -1;
        if (fn === 'message') messageSeen();
        return { statusCode: 200 };
      };
    const h = await gatewayWith({
      handlers: { connect: record('connect'), message: record('message'), disconnect: record('disconnect') },
    });
    const c = await connect(h);
    const id = await h.connectionIdOf(c.tag);
    c.ws.send('{"action":"ping"}');
    await messageRan;
    c.ws.close();
    await h.waitForEvent((e) => e.type === 'disconnected' && e.connectionId === id, 'the $disconnect');
    for (const fn of ['connect', 'message', 'disconnect'] as const) {
      expect(remaining[fn]).toBeLessThanOrEqual(FUNCTION_SETTINGS[fn].timeoutSeconds * 1000);
      expect(remaining[fn]).toBeGreaterThan(FUNCTION_SETTINGS[fn].timeoutSeconds * 1000 - 2000);
    }
  });

  test('a $connect that runs past its timeout fails the handshake with 500', async () => {
    const h = await gatewayWith({
      handlers: { connect: never, disconnect: ok, message: ok },
      timeoutsMs: { connect: 200 },
    });
    const started = Date.now();
    expect(await handshakeStatus(h)).toBe(500);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    await h.waitForEvent((e) => e.type === 'rejected' && e.status === 500, 'the rejected handshake');
  });

  test("a message route that runs past its timeout sends API Gateway's error frame; the connection stays usable", async () => {
    let calls = 0;
    const h = await gatewayWith({
      handlers: {
        connect: ok,
        disconnect: ok,
        // The first frame hangs; the next one is answered through the management API.
        message: async (event) => {
          if (++calls === 1) return never();
          const { connectionId } = (event as { requestContext: { connectionId: string } }).requestContext;
          await h.mgmt.send(
            new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from('{"type":"pong"}') }),
          );
          return { statusCode: 200 };
        },
      },
      timeoutsMs: { message: 200 },
    });
    const c = await connect(h);
    const id = await h.connectionIdOf(c.tag);
    c.ws.send('{"action":"ping","id":"1"}');
    c.ws.send('{"action":"ping","id":"2"}');
    await c.received(2);
    const first = JSON.parse(c.messages[0] as string) as Record<string, unknown>;
    expect(first).toMatchObject({ message: 'Internal server error', connectionId: id });
    expect(typeof first.requestId).toBe('string');
    expect(JSON.parse(c.messages[1] as string)).toEqual({ type: 'pong' });
  });

  test('an HTTP API call that runs past its timeout answers 500 {"message":"Internal Server Error"}', async () => {
    const api = await startHttpApi({ port: 0, handler: never, timeoutMs: 200 });
    httpApis.push(api);
    const started = Date.now();
    const res = await fetch(`${api.url}/health`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ message: 'Internal Server Error' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  test('the HTTP API runs the http function with its FUNCTION_SETTINGS timeout', async () => {
    let remaining = -1;
    const api = await startHttpApi({
      port: 0,
      handler: async (_event, context?: LambdaContext) => {
        remaining = context?.getRemainingTimeInMillis() ?? -1;
        return { statusCode: 200, body: '{"ok":true}' };
      },
    });
    httpApis.push(api);
    const res = await fetch(`${api.url}/health`);
    expect(res.status).toBe(200);
    expect(remaining).toBeLessThanOrEqual(FUNCTION_SETTINGS.http.timeoutSeconds * 1000);
    expect(remaining).toBeGreaterThan(FUNCTION_SETTINGS.http.timeoutSeconds * 1000 - 2000);
  });
});
