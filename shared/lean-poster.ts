import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AwsCredentialIdentity, Provider } from '@smithy/types';
import { throughClientMiddleware } from './client-middleware';
import type { Poster } from './management-api';
import { PostSigner } from './post-signer';
import type { Runtime } from './runtime';

/**
 * PostToConnection without the SDK's middleware stack: a SigV4 signature (shared/post-signer.ts: what
 * `@smithy/signature-v4` signs, with the day's signing key cached) over keep-alive sockets. One post is one signed HTTPS request,
 * which is all the SDK does for it too; the rest of its stack (retries, which the delivery loop does
 * itself, endpoint rules, serde) is per-request CPU the fan-out does not need. Errors look like the
 * SDK's: `name` from `x-amzn-errortype` (GoneException, LimitExceededException, ...) and
 * `$metadata.httpStatusCode`, so `classifyPostError` treats both alike; a post not answered within
 * `timeoutMs` fails with `TimeoutError`.
 */
export interface LeanPosterOptions {
  endpoint: string;
  region: string;
  credentials: Provider<AwsCredentialIdentity>;
  maxSockets: number;
  timeoutMs: number;
}

/** node:crypto behind the `Checksum` interface @smithy/signature-v4 expects (tests compare against it). */
export class Sha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(toBuffer(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.h.digest());
  }
  reset(): void {
    throw new Error('not supported');
  }
}

function toBuffer(d: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof d === 'string') return Buffer.from(d, 'utf8');
  if (ArrayBuffer.isView(d)) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  return Buffer.from(d);
}

export class PostError extends Error {
  readonly $metadata: { httpStatusCode?: number };
  constructor(name: string, message: string, status?: number) {
    super(message);
    this.name = name;
    this.$metadata = { httpStatusCode: status };
  }
}

export class LeanPoster implements Poster {
  private readonly url: URL;
  private readonly signer: PostSigner;
  private readonly agent: http.Agent;
  private readonly basePath: string;
  private readonly transport: typeof http | typeof https;
  private readonly port: string | undefined;

  constructor(private readonly opts: LeanPosterOptions) {
    this.url = new URL(opts.endpoint);
    this.basePath = this.url.pathname.replace(/\/$/, '');
    this.signer = new PostSigner(opts.region);
    const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets };
    this.transport = this.url.protocol === 'https:' ? https : http;
    this.agent = this.url.protocol === 'https:' ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
    this.port = this.url.port || undefined;
  }

  /** Each post goes through the registered client middleware, like an SDK call (local mode ties it to its invocation). */
  private readonly guarded = throughClientMiddleware((args: { connectionId: string; data: string }) =>
    this.send(args.connectionId, args.data),
  );

  post(connectionId: string, data: string): Promise<void> {
    return this.guarded({ connectionId, data });
  }

  private async send(connectionId: string, data: string): Promise<void> {
    const body = Buffer.from(data, 'utf8');
    const path = `${this.basePath}/@connections/${encodeURIComponent(connectionId)}`;
    const headers = this.signer.sign(await this.opts.credentials(), this.url.host, path, body);
    await new Promise<void>((resolve, reject) => {
      const req = this.transport.request(
        { method: 'POST', hostname: this.url.hostname, port: this.port, path, headers, agent: this.agent },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            // Nothing to read: drain, so the socket goes back to the pool.
            res.on('end', resolve).on('error', reject).resume();
            return;
          }
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const type = String(res.headers['x-amzn-errortype'] ?? '').split(':')[0] || `Http${status}`;
            let message = type;
            try {
              message = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message?: string }).message ?? type;
            } catch {
              // not JSON: keep the type
            }
            reject(new PostError(type, message, status));
          });
          res.on('error', reject);
        },
      );
      req.setTimeout(this.opts.timeoutMs, () =>
        req.destroy(new PostError('TimeoutError', `no answer within ${this.opts.timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  destroy(): void {
    this.agent.destroy();
  }
}

const posters = new Map<string, Poster>();

/**
 * The poster for a management API endpoint: the one handed to the runtime (tests, tools), else a
 * lean poster per endpoint and container, signing with the runtime's credentials (shared/runtime.ts,
 * OnDemand). Only connect, disconnect, message and deliver post, so only their bundles hold this.
 */
export function posterFor(rt: Pick<Runtime, 'config' | 'onDemand'>, endpoint: string): Poster {
  if (rt.onDemand.poster) return rt.onDemand.poster(endpoint);
  const { config } = rt;
  const key = `${endpoint} ${config.postConcurrency} ${config.postTimeoutMs}`;
  let poster = posters.get(key);
  if (!poster) {
    const region =
      process.env.AWS_REGION ??
      process.env.AWS_DEFAULT_REGION ??
      endpoint.match(/execute-api\.([a-z0-9-]+)\./)?.[1] ??
      'us-east-1';
    poster = new LeanPoster({
      endpoint,
      region,
      credentials: rt.onDemand.credentials,
      maxSockets: config.postConcurrency,
      timeoutMs: config.postTimeoutMs,
    });
    posters.set(key, poster);
  }
  return poster;
}
