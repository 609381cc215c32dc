import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenBucket } from './token-bucket';

/**
 * A real HTTP server speaking API Gateway's management API (`POST /@connections/{id}`) for tests:
 * it records every post, answers 410 GoneException for ids marked gone, and 429 / 500 on demand.
 */
export interface RecordedPost {
  connectionId: string;
  data: string;
}

export class TestManagementServer {
  readonly posts: RecordedPost[] = [];
  readonly gone = new Set<string>();
  /** connectionId → how many more posts to answer with the status. */
  readonly failNext = new Map<string, { status: number; times: number }>();
  attempts = 0;
  /** connectionId → a gate the next post to it waits on (received, not yet recorded or answered). */
  private readonly holds = new Map<string, { gate: Promise<void>; received: () => void }>();
  /**
   * The account's post throttle (API Gateway: 10,000 requests/s, burst 5,000), scaled down: a token
   * bucket shared by every connection; an empty bucket answers 429 LimitExceededException, like a full
   * client buffer does. A refused post takes no token. Off unless set.
   */
  accountThrottle?: { rate: number; burst: number };
  /** Posts the account throttle refused. */
  accountRefused = 0;
  private bucket?: TokenBucket;
  private waiters: { pred: () => boolean; resolve: () => void }[] = [];
  private server = http.createServer((req, res) => this.handle(req, res));
  endpoint = '';

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  framesFor(connectionId: string): Record<string, unknown>[] {
    return this.posts
      .filter((p) => p.connectionId === connectionId)
      .map((p) => JSON.parse(p.data) as Record<string, unknown>);
  }

  /** Resolves when the predicate over recorded posts holds (checked after every post). */
  waitFor(pred: () => boolean, timeoutMs = 5000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for posts')), timeoutMs);
      this.waiters.push({ pred, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  /**
   * Holds the next post to the connection after it is received: it is recorded and answered only
   * when the returned function is called (a post left in flight, e.g. by an invocation that ended).
   */
  hold(connectionId: string): { received: Promise<void>; release: () => void } {
    let release!: () => void;
    let received!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const arrived = new Promise<void>((r) => (received = r));
    this.holds.set(connectionId, { gate, received });
    return { received: arrived, release };
  }

  /** Starts the bucket full (call after setting `accountThrottle`). */
  fillBucket(): void {
    this.bucket = this.accountThrottle && new TokenBucket(this.accountThrottle.rate, this.accountThrottle.burst);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.attempts++;
      const m = decodeURIComponent(req.url ?? '').match(/\/@connections\/([^/?]+)/);
      const id = m?.[1] ?? '';
      const held = this.holds.get(id);
      if (held) {
        this.holds.delete(id);
        held.received();
        void held.gate.then(() => this.answer(req, res, id, chunks));
        return;
      }
      this.answer(req, res, id, chunks);
    });
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, id: string, chunks: Buffer[]): void {
    const fail = this.failNext.get(id);
    if (
      this.accountThrottle &&
      !(this.bucket ??= new TokenBucket(this.accountThrottle.rate, this.accountThrottle.burst)).take()
    ) {
      this.accountRefused++;
      res.writeHead(429, { 'content-type': 'application/json', 'x-amzn-errortype': 'LimitExceededException' });
      res.end(JSON.stringify({ message: 'Rate exceeded' }));
      return;
    }
    if (fail && fail.times > 0) {
      fail.times--;
      const type = fail.status === 429 ? 'LimitExceededException' : 'InternalServerErrorException';
      res.writeHead(fail.status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
      res.end(JSON.stringify({ message: type }));
      return;
    }
    if (this.gone.has(id)) {
      res.writeHead(410, { 'content-type': 'application/json', 'x-amzn-errortype': 'GoneException' });
      res.end(JSON.stringify({ message: 'Gone' }));
      return;
    }
    if (req.method === 'POST') this.posts.push({ connectionId: id, data: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end();
    this.waiters = this.waiters.filter((w) => (w.pred() ? (w.resolve(), false) : true));
  }
}
