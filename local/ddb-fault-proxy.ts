import http from 'node:http';
import type { Faults } from './faults';
import type { LocalLog } from './log';
import { listen } from './ports';

/**
 * The `ddb_throttle` fault: a small HTTP proxy in front of DynamoDB Local. The handlers' DynamoDB
 * endpoint (`AWS_ENDPOINT_URL_DYNAMODB`) points here; `.local/endpoints.json` keeps naming DynamoDB
 * Local itself, so tools and tests that read it are never throttled. For each request it rolls
 * `ddb_throttle`: on a hit it answers exactly what DynamoDB answers when a table's throughput is
 * exceeded (HTTP 400, `application/x-amz-json-1.0`, `__type` ...ProvisionedThroughputExceededException,
 * which the SDK raises as ProvisionedThroughputExceededException and retries as a throttle); otherwise
 * it forwards the request unchanged (method, path, headers, body streamed both ways, over keep-alive
 * connections). Started by the runtime only when `ddb_throttle` is configured.
 */
export const THROTTLE_BODY = JSON.stringify({
  __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
  message:
    'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
});

export interface DdbFaultProxyOptions {
  /** DynamoDB Local's endpoint, e.g. `http://127.0.0.1:8000`. */
  target: string;
  faults: Faults;
  /** 0 (default): any free port. */
  port?: number;
  host?: string;
  log?: LocalLog;
}

export interface DdbFaultProxy {
  port: number;
  /** What the handlers use as their DynamoDB endpoint. */
  endpoint: string;
  stop(): Promise<void>;
}

export async function startDdbFaultProxy(opts: DdbFaultProxyOptions): Promise<DdbFaultProxy> {
  const host = opts.host ?? '127.0.0.1';
  const target = new URL(opts.target);
  const log = opts.log ?? (() => undefined);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let requestIds = 0;

  const server = http.createServer((req, res) => {
    if (opts.faults.roll('ddb_throttle')) {
      // Read the request to its end first, as DynamoDB does, so the keep-alive connection stays usable.
      req.resume();
      req.once('end', () => {
        if (res.headersSent) return;
        res.writeHead(400, {
          'content-type': 'application/x-amz-json-1.0',
          'content-length': Buffer.byteLength(THROTTLE_BODY),
          'x-amzn-requestid': `LOCALFAULT${String(++requestIds).padStart(26, '0')}`,
        });
        res.end(THROTTLE_BODY);
      });
      return;
    }
    const upstream = http.request(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        // Unchanged, Host included: the request stays exactly as the SDK signed it.
        headers: req.headers,
        agent,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.rawHeaders);
        up.pipe(res);
        up.once('error', () => res.destroy());
      },
    );
    upstream.once('error', (err) => {
      log('debug', `ddb fault proxy: ${err.message}`);
      // DynamoDB Local is unreachable: the client sees the connection end, as it would without us.
      res.destroy();
    });
    req.pipe(upstream);
    // The client went away mid-request: drop the upstream request too.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
  });

  const port = await listen(server, opts.port ?? 0, host, 'the DynamoDB fault proxy port');
  return {
    port,
    endpoint: `http://${host}:${port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
