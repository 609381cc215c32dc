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
 *
 * And it makes long polling behave as SQS's: a waiting ReceiveMessage returns as soon as messages
 * are available to it, otherwise when its WaitTimeSeconds are up, never early and empty. fauxqs
 * wakes EVERY waiting receive on every send (and every 20 ms while a FIFO group has messages, even
 * when another receive holds the group); all but one then return nothing, and each poller asks
 * again at once: with the local runtime's 23 pollers that was a storm of empty receives costing
 * CPU that the handlers needed. Here a send wakes only as many receives as can take something (one per 10
 * messages available), and a receive woken with nothing to take waits on until its time is up.
 * Checked by test/integration/sqs-fifo-batches.test.ts; fauxqs is pinned in package.json.
 */
interface Waiter {
  resolve(): void;
  timer: NodeJS.Timeout;
}

interface FifoQueue {
  fifoLockedGroups: Map<string, number>;
  fifoMessages: Map<string, { sequenceNumber?: string }[]>;
  messages: unknown[];
  pollWaiters: Waiter[];
  isFifo(): boolean;
  waitForMessages(waitTimeSeconds: number): Promise<void>;
  notifyWaiters(): void;
  cancelWaiters(): void;
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
    // Sequence numbers are zero-padded to one width: plain comparison orders them. Sorted only when out of order (this runs every 20 ms).
    for (const group of this.fifoMessages.values()) {
      let sorted = true;
      for (let i = 1; i < group.length && sorted; i++)
        sorted = (group[i - 1]?.sequenceNumber ?? '') <= (group[i]?.sequenceNumber ?? '');
      if (!sorted)
        group.sort((a, b) =>
          (a.sequenceNumber ?? '') < (b.sequenceNumber ?? '')
            ? -1
            : (a.sequenceNumber ?? '') > (b.sequenceNumber ?? '')
              ? 1
              : 0,
        );
    }
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

  /**
   * Receives that can take something now: one per 10 messages available (a receive takes up to 10,
   * from several FIFO groups too). Should a receive ask for fewer, fauxqs's 20 ms timer wakes the next.
   */
  const takers = function (this: FifoQueue): number {
    let n = 0;
    if (!this.isFifo()) n = this.messages.length;
    else
      for (const [group, msgs] of this.fifoMessages)
        if (msgs.length > 0 && !this.fifoLockedGroups.has(group)) n += msgs.length;
    return Math.ceil(n / 10);
  };
  mod.SqsQueue.prototype.notifyWaiters = function (this: FifoQueue) {
    for (let n = takers.call(this); n > 0 && this.pollWaiters.length > 0; n--) {
      const waiter = this.pollWaiters.shift() as Waiter;
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
  };
  const cancelled = new WeakMap<FifoQueue, number>();
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with .call(this)
  const cancelWaiters = mod.SqsQueue.prototype.cancelWaiters;
  mod.SqsQueue.prototype.cancelWaiters = function (this: FifoQueue) {
    cancelled.set(this, (cancelled.get(this) ?? 0) + 1);
    cancelWaiters.call(this);
  };
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with .call(this)
  const waitForMessages = mod.SqsQueue.prototype.waitForMessages;
  mod.SqsQueue.prototype.waitForMessages = async function (this: FifoQueue, waitTimeSeconds: number) {
    const until = Date.now() + waitTimeSeconds * 1000;
    const epoch = cancelled.get(this) ?? 0;
    for (;;) {
      await waitForMessages.call(this, Math.max(0, until - Date.now()) / 1000);
      // Woken with something to take, out of time, or the queue is going away: the receive goes on.
      if (takers.call(this) > 0 || Date.now() >= until || (cancelled.get(this) ?? 0) !== epoch) return;
    }
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
