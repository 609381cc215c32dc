import http from 'node:http';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { parseSnsNotification, snsLambdaEvent } from './api-gateway-events';
import type { LocalLog } from './log';
import { PortInUseError } from './ports';
import type { LambdaHandler } from './ws-gateway';

/**
 * SNS → fanout, locally. fauxqs (an SNS/SQS emulator speaking the AWS wire protocols) holds the
 * topic; an SQS queue subscribed to it without raw delivery receives each notification as SNS's JSON
 * envelope. The bridge long-polls that queue and invokes the fanout handler with a Lambda SNS event
 * of ONE record per invocation, as SNS → Lambda does. A failed invocation is retried (the message
 * becomes visible again after a short delay); after `maxAttempts` failures the queue's
 * RedrivePolicy moves it to the dead-letter queue. Nothing is dropped silently.
 */
export interface SnsBridgeOptions {
  port: number;
  host?: string;
  region: string;
  handler: LambdaHandler;
  topicName?: string;
  /** Invocations per message before it is parked in the DLQ (Lambda's async invocations: 3). */
  maxAttempts?: number;
  /** Seconds before retry n (n = 1, 2, ...) becomes visible: n × this. */
  retryDelaySeconds?: number;
  onEvent?: (e: BridgeEvent) => void;
  log?: LocalLog;
}

export type BridgeEvent =
  | { type: 'fanout'; messageId: string; outcome: 'ok'; attempt: number }
  | { type: 'fanout'; messageId: string; outcome: 'failed' | 'parked'; attempt: number; error: string }
  | { type: 'fanout'; messageId: string; outcome: 'not_sns'; attempt: number };

export interface SnsBridge {
  endpoint: string;
  port: number;
  topicArn: string;
  subscriptionArn: string;
  queueUrl: string;
  dlqUrl: string;
  stop(): Promise<void>;
}

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
/** Long-poll wait: short, so stop() never waits on an emulator timer for long. */
const POLL_WAIT_SECONDS = 2;

export async function startSnsBridge(opts: SnsBridgeOptions): Promise<SnsBridge> {
  const host = opts.host ?? '127.0.0.1';
  const topicName = opts.topicName ?? 'switchboard';
  const maxAttempts = opts.maxAttempts ?? 3;
  const retryDelaySeconds = opts.retryDelaySeconds ?? 1;
  const log = opts.log ?? (() => undefined);
  const emit = opts.onEvent ?? (() => undefined);

  // fauxqs ships ESM only; a dynamic import loads it from this CommonJS module (tsx, Node ≥ 20).
  const { buildApp } = await import('fauxqs');
  const app = buildApp({ logger: false, defaultRegion: opts.region });
  let address: string;
  try {
    address = await app.listen({ port: opts.port, host });
  } catch (err) {
    await app.close().catch(() => undefined);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new PortInUseError(opts.port, 'SNS_PORT');
    throw err;
  }
  const port = Number(new URL(address).port);
  const endpoint = `http://${host}:${port}`;

  const agent = new http.Agent({ keepAlive: true });
  const clientConfig = { endpoint, region: opts.region, credentials: CREDENTIALS, requestHandler: { httpAgent: agent } };
  const sns = new SNSClient(clientConfig);
  const sqs = new SQSClient(clientConfig);

  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${topicName}-fanout-dlq`, Attributes: { MessageRetentionPeriod: '1209600' } }));
  const dlqUrl = dlq.QueueUrl as string;
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn as string;
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${topicName}-fanout`,
      Attributes: {
        // Lambda's timeout for the fanout function: a message in flight that long is tried again.
        VisibilityTimeout: '30',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: String(maxAttempts) }),
      },
    }),
  );
  const queueUrl = queue.QueueUrl as string;
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn as string;
  const topicArn = (await sns.send(new CreateTopicCommand({ Name: topicName }))).TopicArn as string;
  const subscriptionArn = (
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn, Attributes: { RawMessageDelivery: 'false' }, ReturnSubscriptionArn: true }))
  ).SubscriptionArn as string;

  let stopped = false;
  const abort = new AbortController();

  async function handle(m: Message): Promise<void> {
    const attempt = Number(m.Attributes?.ApproximateReceiveCount ?? '1');
    const receipt = m.ReceiptHandle as string;
    const notification = parseSnsNotification(m.Body ?? '');
    if (!notification) {
      // Only SNS writes to this queue; anything else cannot be a Lambda SNS event: park it.
      log('warn', `message ${m.MessageId} on the fanout queue is not an SNS notification; moved to the dead-letter queue`);
      emit({ type: 'fanout', messageId: m.MessageId ?? '', outcome: 'not_sns', attempt });
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receipt, VisibilityTimeout: 0 }));
      return;
    }
    const messageId = notification.MessageId;
    try {
      await opts.handler(snsLambdaEvent(notification, subscriptionArn));
    } catch (err) {
      const error = (err as Error)?.message ?? String(err);
      const last = attempt >= maxAttempts;
      log(
        'warn',
        last
          ? `fanout failed for SNS message ${messageId} (attempt ${attempt} of ${maxAttempts}): ${error}; parked in the dead-letter queue ${dlqUrl}`
          : `fanout failed for SNS message ${messageId} (attempt ${attempt} of ${maxAttempts}): ${error}; retrying`,
      );
      // The message comes back after the delay; past maxAttempts the RedrivePolicy moves it to the DLQ.
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receipt, VisibilityTimeout: last ? 0 : retryDelaySeconds * attempt }));
      emit({ type: 'fanout', messageId, outcome: last ? 'parked' : 'failed', attempt, error });
      return;
    }
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receipt }));
    emit({ type: 'fanout', messageId, outcome: 'ok', attempt });
  }

  const loop = (async () => {
    while (!stopped) {
      try {
        const r = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: POLL_WAIT_SECONDS, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }),
          { abortSignal: abort.signal },
        );
        // One invocation at a time, in the order SNS delivered: events reach clients in seq order.
        for (const m of r.Messages ?? []) {
          if (stopped) break;
          await handle(m).catch((err: unknown) => log('warn', `could not settle SNS message ${m.MessageId}: ${(err as Error)?.message ?? String(err)}`));
        }
      } catch (err) {
        if (stopped) break;
        log('warn', `receiving from the fanout queue failed: ${(err as Error)?.message ?? String(err)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  })();

  return {
    endpoint,
    port,
    topicArn,
    subscriptionArn,
    queueUrl,
    dlqUrl,
    async stop() {
      stopped = true;
      abort.abort();
      await loop;
      sns.destroy();
      sqs.destroy();
      agent.destroy();
      await app.close();
    },
  };
}
