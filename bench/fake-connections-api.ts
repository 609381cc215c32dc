import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake `@connections` API for the engine benchmark: answers every POST with 200 after a fixed
 * latency. It runs in a child process, as API Gateway runs on other machines: its CPU (parsing
 * requests, timers, writing answers) is not the engine's, and on this 2-core machine it would
 * otherwise compete with the poster for the same event loop.
 */
export interface FakeConnectionsApi {
  endpoint: string;
  /** Posts answered so far. */
  posts(): Promise<number>;
  stop(): Promise<void>;
}

type Reply = { type: 'port'; port: number } | { type: 'posts'; posts: number };

export async function startFakeConnectionsApi(latencyMs: number): Promise<FakeConnectionsApi> {
  const child: ChildProcess = fork(__filename, ['serve', String(latencyMs)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = (type: Reply['type']) =>
    new Promise<Reply>((resolve) => {
      const on = (m: Reply) => {
        if (m.type !== type) return;
        child.off('message', on);
        resolve(m);
      };
      child.on('message', on);
    });
  const ready = (await next('port')) as Extract<Reply, { type: 'port' }>;
  return {
    endpoint: `http://127.0.0.1:${ready.port}`,
    async posts() {
      const answer = next('posts');
      child.send('posts');
      return ((await answer) as Extract<Reply, { type: 'posts' }>).posts;
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      await exited;
    },
  };
}

function serve(latencyMs: number): void {
  let posts = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      posts++;
      setTimeout(() => res.writeHead(200).end(), latencyMs);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send?.({ type: 'port', port: (server.address() as AddressInfo).port }));
  process.on('message', () => process.send?.({ type: 'posts', posts }));
}

if (require.main === module && process.argv[2] === 'serve') serve(Number(process.argv[3]));
