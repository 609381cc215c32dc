import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * fauxqs 1.9 hands out ONE message per FIFO message group per ReceiveMessage; SQS returns up to 10
 * of one group in order ("SQS first attempts to return as many messages with the same message group
 * ID as possible"). With one order group, that would make the local sequencer take events one at a
 * time — slower than AWS, not faithful. This wraps fauxqs's FIFO dequeue so one receive takes, in
 * order, up to the requested count from each group that was unlocked when the receive began.
 *
 * It also returns messages to their group in order: fauxqs puts each message whose visibility ends
 * (ChangeMessageVisibility 0, or the timeout) at the FRONT of its group, one by one, so a failed
 * batch of three comes back reversed. SQS keeps a group's order; so does this, by sequence number.
 * Checked by test/integration/sqs-fifo-batches.test.ts; fauxqs is pinned in package.json.
 */
interface FifoQueue {
  fifoLockedGroups: Map<string, number>;
  fifoMessages: Map<string, { sequenceNumber?: string }[]>;
  isFifo(): boolean;
  dequeueFifo(maxCount: number, visibilityTimeout: number | undefined, dlqResolver: unknown): unknown[];
  changeVisibility(receiptHandle: string, timeoutSeconds: number): void;
  processTimers(): void;
}

let patched = false;

export async function enableFifoBatches(): Promise<void> {
  if (patched) return;
  const file = locate();
  const mod = (await import(pathToFileURL(file).href)) as { SqsQueue: { prototype: FifoQueue } };
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with .call(this)
  const original = mod.SqsQueue.prototype.dequeueFifo;
  mod.SqsQueue.prototype.dequeueFifo = function (this: FifoQueue, maxCount, visibilityTimeout, dlqResolver) {
    const lockedBefore = new Set(this.fifoLockedGroups.keys());
    const out: unknown[] = [];
    const limit = Math.min(maxCount, 10);
    while (out.length < limit) {
      // Groups this receive locked itself stay open to it (their earlier messages are in `out`).
      const mine = new Map<string, number>();
      for (const [group, n] of this.fifoLockedGroups) if (!lockedBefore.has(group)) mine.set(group, n);
      for (const group of mine.keys()) this.fifoLockedGroups.delete(group);
      const got = original.call(this, limit - out.length, visibilityTimeout, dlqResolver);
      for (const [group, n] of mine) this.fifoLockedGroups.set(group, (this.fifoLockedGroups.get(group) ?? 0) + n);
      if (got.length === 0) break;
      out.push(...got);
    }
    return out;
  };
  const inOrder = function (this: FifoQueue) {
    if (!this.isFifo()) return;
    for (const group of this.fifoMessages.values()) group.sort((a, b) => (a.sequenceNumber ?? '').localeCompare(b.sequenceNumber ?? ''));
  };
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with .call(this)
  const changeVisibility = mod.SqsQueue.prototype.changeVisibility;
  mod.SqsQueue.prototype.changeVisibility = function (this: FifoQueue, receiptHandle, timeoutSeconds) {
    changeVisibility.call(this, receiptHandle, timeoutSeconds);
    if (timeoutSeconds === 0) inOrder.call(this);
  };
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with .call(this)
  const processTimers = mod.SqsQueue.prototype.processTimers;
  mod.SqsQueue.prototype.processTimers = function (this: FifoQueue) {
    processTimers.call(this);
    inOrder.call(this);
  };
  patched = true;
}

function locate(): string {
  for (const dir of require.resolve.paths('fauxqs') ?? []) {
    const file = path.join(dir, 'fauxqs', 'dist', 'sqs', 'sqsStore.js');
    if (fs.existsSync(file)) return file;
  }
  throw new Error('cannot find fauxqs/dist/sqs/sqsStore.js');
}
