// fauxqs (the SNS/SQS emulator) in a process of its own, started by local/pipeline.ts: the SQS and
// SNS servers' work (HTTP, JSON, the queues) runs on another core than the handlers. It prints
// `LISTENING <port>` once it listens, or `IN_USE` when its port is taken; it stops when its parent
// closes its stdin (or goes away), so it never outlives `npm start`, and not before (signals are left to the parent).
import { enableFifoBatches } from './fauxqs-fifo-batches';

interface FauxqsModule {
  buildApp: (opts: { logger: boolean; defaultRegion: string }) => {
    listen(at: { port: number; host: string }): Promise<string>;
    close(): Promise<void>;
  };
}

void (async () => {
  const [port, host, region] = [
    Number(process.argv[2] ?? 0),
    process.argv[3] ?? '127.0.0.1',
    process.argv[4] ?? 'us-east-1',
  ];
  // fauxqs ships ESM only; a dynamic import loads it from this CommonJS module (tsx, Node ≥ 20).
  // Its declarations reach fastify's through ESM-only paths that this CommonJS build cannot resolve,
  // so the part used here is typed by hand.
  const { buildApp } = (await import('fauxqs')) as unknown as FauxqsModule;
  await enableFifoBatches();
  const app = buildApp({ logger: false, defaultRegion: region });
  let address: string;
  try {
    address = await app.listen({ port, host });
  } catch (err) {
    await app.close().catch(() => undefined);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      process.stdout.write('IN_USE\n');
      process.exit(3);
    }
    throw err;
  }
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    const force = setTimeout(() => process.exit(0), 2000);
    force.unref();
    void app.close().finally(() => process.exit(0));
  };
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
  // Ctrl-C signals the whole process group: this process waits for its parent, which stops the
  // pollers first and then closes stdin (or dies, which closes it too).
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => undefined);
  process.stdout.write(`LISTENING ${new URL(address).port}\n`);
})().catch((err: unknown) => {
  process.stderr.write(`fauxqs failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
