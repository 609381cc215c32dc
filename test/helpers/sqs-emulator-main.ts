// The SQS emulator process for jest (see sqs-emulator.ts): fauxqs with SQS's FIFO batching, as `npm start` runs it.
import { enableFifoBatches } from '../../local/fauxqs-fifo-batches';

void (async () => {
  const { startFauxqs } = await import('fauxqs');
  await enableFifoBatches();
  const s = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  process.stdout.write(`PORT ${s.port}\n`);
})();
