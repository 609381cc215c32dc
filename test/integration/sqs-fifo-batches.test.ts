import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { sqsClient } from '../helpers/runtime';

/**
 * The local SQS emulator returns FIFO messages as SQS does: up to 10 of one message group per
 * receive, in order, and nothing more of that group until they are deleted (local/fauxqs-fifo-batches.ts).
 */
test('one receive takes up to 10 messages of one group in order; the group stays locked until they are deleted; returned messages keep their order', async () => {
  const sqs = sqsClient();
  try {
    const QueueUrl = (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: `fifo-${randomUUID().slice(0, 8)}.fifo`,
          Attributes: { FifoQueue: 'true' },
        }),
      )
    ).QueueUrl as string;
    for (const batch of [0, 10]) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl,
          Entries: Array.from({ length: 10 }, (_, i) => ({
            Id: String(i),
            MessageBody: String(batch + i),
            MessageGroupId: 'g',
            MessageDeduplicationId: `d${batch + i}`,
          })),
        }),
      );
    }
    const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect((first.Messages ?? []).map((m) => m.Body)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }))).Messages ?? []).toEqual(
      [],
    );
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl,
        Entries: (first.Messages ?? []).map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
      }),
    );
    const second = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 4 }));
    expect((second.Messages ?? []).map((m) => m.Body)).toEqual(['10', '11', '12', '13']);
    // Failed and made visible again (in order, as a handler does): they come back in their order.
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl,
        Entries: (second.Messages ?? []).map((m, i) => ({
          Id: String(i),
          ReceiptHandle: m.ReceiptHandle as string,
          VisibilityTimeout: 0,
        })),
      }),
    );
    const again = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect((again.Messages ?? []).map((m) => m.Body)).toEqual([
      '10',
      '11',
      '12',
      '13',
      '14',
      '15',
      '16',
      '17',
      '18',
      '19',
    ]);
  } finally {
    sqs.destroy();
  }
});

test('a long poll returns when it has messages or when its wait is up, never early and empty (one send wakes one waiting receive)', async () => {
  const sqs = sqsClient();
  try {
    const QueueUrl = (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: `poll-${randomUUID().slice(0, 8)}.fifo`,
          Attributes: { FifoQueue: 'true' },
        }),
      )
    ).QueueUrl as string;
    const waitSeconds = 2;
    const receive = async () => {
      const start = Date.now();
      const r = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds }),
      );
      return { bodies: (r.Messages ?? []).map((m) => m.Body), ms: Date.now() - start };
    };
    const both = Promise.all([receive(), receive()]);
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [{ Id: '0', MessageBody: 'one', MessageGroupId: 'g', MessageDeduplicationId: 'd-one' }],
      }),
    );
    const results = await both;
    const got = results.filter((r) => r.bodies.length > 0);
    const empty = results.filter((r) => r.bodies.length === 0);
    expect(got.map((r) => r.bodies)).toEqual([['one']]);
    expect(empty).toHaveLength(1);
    // SQS answers an empty long poll only when WaitTimeSeconds are up (a little timer slack allowed).
    expect(empty[0]?.ms).toBeGreaterThanOrEqual(waitSeconds * 1000 - 100);
  } finally {
    sqs.destroy();
  }
});
