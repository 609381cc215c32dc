import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { LocalEndpoints } from '../../../local/runtime';

/** A server frame as the client sees it. */
export interface Frame {
  type: string;
  [key: string]: unknown;
}

export class HandshakeRejected extends Error {
  constructor(readonly status: number) {
    super(`handshake rejected with HTTP ${status}`);
  }
}

/**
 * A WebSocket client for the e2e tests: collects frames and lets a test wait for the next one that
 * matches, with a timeout. Each client sends `x-test-client: <tag>` on the handshake, so the test can
 * learn its connection id from the runtime's events.
 */
export class TestClient {
  private buffer: Frame[] = [];
  private waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(
    readonly ws: WebSocket,
    /** Sent as `x-test-client` on the handshake. */
    readonly tag: string,
  ) {
    ws.on('message', (data) => {
      const frame = JSON.parse((data as Buffer).toString()) as Frame;
      const i = this.waiters.findIndex((w) => w.pred(frame));
      if (i === -1) this.buffer.push(frame);
      else this.waiters.splice(i, 1)[0]?.resolve(frame);
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  static connect(
    websocketUrl: string,
    token: string | undefined,
    opts: { channels?: string; query?: string } = {},
  ): Promise<TestClient> {
    const params = new URLSearchParams();
    if (token !== undefined) params.set('token', token);
    if (opts.channels !== undefined) params.set('channels', opts.channels);
    const query = [params.toString(), opts.query].filter(Boolean).join('&');
    const tag = randomUUID();
    const ws = new WebSocket(`${websocketUrl}${query ? `?${query}` : ''}`, { headers: { 'x-test-client': tag } });
    const client = new TestClient(ws, tag);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        reject(new HandshakeRejected(res.statusCode ?? 0));
        ws.terminate();
      });
      ws.once('error', reject);
    });
  }

  send(frame: object | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame matching `pred` (taken from what arrived already, else awaited). */
  next(pred: (f: Frame) => boolean = () => true, timeoutMs = 10_000, what = 'a frame'): Promise<Frame> {
    const i = this.buffer.findIndex(pred);
    if (i !== -1) return Promise.resolve(this.buffer.splice(i, 1)[0] as Frame);
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; unclaimed frames: ${JSON.stringify(this.buffer).slice(0, 2000)}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next event frame (optionally with this `id`). */
  nextEvent(id?: string, timeoutMs?: number): Promise<Frame> {
    return this.next(
      (f) => f.type === 'event' && (id === undefined || f.id === id),
      timeoutMs,
      id ? `event ${id}` : 'an event',
    );
  }

  /** Subscribes and waits for `subscribed` (or the error/reset that answers it). */
  async subscribe(channel: string, since?: number): Promise<Frame> {
    const id = randomUUID();
    this.send({ action: 'subscribe', channel, id, ...(since !== undefined && { since }) });
    return this.next((f) => f.id === id, 10_000, `the answer to subscribe ${channel}`);
  }

  /** Frames received and not claimed by next() yet. */
  unclaimed(): Frame[] {
    return [...this.buffer];
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.close(1000, 'bye');
    await this.closed;
  }
}

/** Publishes like a backend would: @aws-sdk/client-sns against the emulator. */
export class Publisher {
  readonly sns: SNSClient;
  constructor(private readonly endpoints: LocalEndpoints) {
    this.sns = new SNSClient({
      endpoint: endpoints.snsEndpoint,
      region: endpoints.region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  }

  /** Publishes a raw Message; resolves with the SNS MessageId. */
  async raw(message: string): Promise<string> {
    const r = await this.sns.send(new PublishCommand({ TopicArn: this.endpoints.topicArn, Message: message }));
    return r.MessageId as string;
  }

  /** Publishes an event; resolves with its id (the given one, else the SNS MessageId). */
  async publish(
    channels: string[],
    event: string,
    data: unknown,
    id?: string,
  ): Promise<{ id: string; messageId: string }> {
    const messageId = await this.raw(JSON.stringify({ channels, event, data, ...(id !== undefined && { id }) }));
    return { id: id ?? messageId, messageId };
  }

  destroy(): void {
    this.sns.destroy();
  }
}

/** A fresh number for channel names, so tests sharing a runtime never see each other's events. */
export function uniqueId(): number {
  return 1 + Math.floor(Math.random() * 1_000_000_000);
}
