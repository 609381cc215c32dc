import { setMaxListeners } from 'node:events';
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { laneEventId, parseLaneMessage } from '../shared/lanes';
import { parseOrderBody } from '../shared/sequencer-batch';
import { PIPELINE, visibilityTimeoutSeconds, type QueueStage } from '../shared/pipeline';
import type { Faults } from './faults';
import { invoke, type Handler } from './lambda-invoker';
import type { LocalLog } from './log';
import { PortInUseError } from './ports';
import { sqsRecord } from './api-gateway-events';
import { SqsWire } from './sqs-wire';

/**
 * The delivery pipeline on one machine, built from the same table as the CDK stack
 * (shared/pipeline.ts): fauxqs (an SNS/SQS emulator speaking the AWS wire protocols) holds the topic
 * and the ingest (standard), order (FIFO) and delivery (FIFO) queues with their dead-letter queues;
 * one event source mapping per queue long-polls it with the stage's batch size and concurrency and
 * invokes the stage's handler through the local Lambda invoker (timeouts enforced, faults rolled).
 * As on AWS: records the handler reports as failed stay on the queue (the handler shortens their
 * visibility itself); an invocation that throws or times out leaves its whole batch to come back
 * after the queue's visibility timeout; after maxReceiveCount a message moves to the DLQ.
 */
export type PipelineHandlers = Record<'fanout' | 'sequencer' | 'deliver', Handler>;

export interface PipelineOptions {
  port: number;
  /** Use this SNS/SQS endpoint (an emulator already running) instead of starting fauxqs. */
  endpoint?: string;
  host?: string;
  region: string;
  topicName?: string;
  handlers: PipelineHandlers;
  faults?: Faults;
  /** Test hook: how many of the next fanout invocations crash at their first AWS call. */
  takeFanoutFailure?: () => boolean;
  onEvent?: (e: PipelineEvent) => void;
  log?: LocalLog;
  /** The SQS emulator's process died on its own: the pipeline is unusable. */
  onFatal?: (message: string) => void;
}

export type PipelineEvent =
  | { type: 'fanout'; messageId: string; outcome: 'ok'; attempt: number }
  | { type: 'fanout'; messageId: string; outcome: 'failed' | 'parked'; attempt: number; error: string }
  | { type: 'invocation'; fn: string; outcome: 'error'; records: number; error: string }
  /** An invocation reported records as failed (they come back for a retry). */
  | { type: 'retried'; fn: string; records: number; at: number }
  /** A sequencer invocation finished: these event ids are recorded (seqs, history) and handed to the lanes. */
  | { type: 'sequenced'; ids: string[] }
  /** A deliver invocation finished these lane messages (posts made or skipped; 410 connections removed). */
  | { type: 'delivered'; ids: string[]; at: number }
  /** `sqs_duplicate`: these messages of a standard queue were also handed to a second invocation. */
  | { type: 'duplicated'; fn: string; records: number };

export interface QueuePair {
  url: string;
  arn: string;
  dlqUrl: string;
}

export interface LocalPipeline {
  endpoint: string;
  port: number;
  topicArn: string;
  queues: Record<'ingest' | 'order' | 'delivery', QueuePair>;
  stop(): Promise<void>;
}

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
/** Long-poll wait: short, so stop() never waits on an emulator timer for long. */
const POLL_WAIT_SECONDS = 1;

export async function startPipeline(opts: PipelineOptions): Promise<LocalPipeline> {
  const host = opts.host ?? '127.0.0.1';
  const topicName = opts.topicName ?? 'switchboard';
  const log = opts.log ?? (() => undefined);
  const emit = opts.onEvent ?? (() => undefined);

  const app = opts.endpoint
    ? undefined
    : await startFauxqs(opts.port, host, opts.region, (message) =>
        opts.onFatal ? opts.onFatal(message) : log('warn', message),
      );
  const endpoint = opts.endpoint ?? (app as { endpoint: string }).endpoint;
  const port = Number(new URL(endpoint).port);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const clientConfig = {
    endpoint,
    region: opts.region,
    credentials: CREDENTIALS,
    requestHandler: { httpAgent: agent },
  };
  const sns = new SNSClient(clientConfig);
  const sqs = new SQSClient({ ...clientConfig, useQueueUrlAsEndpoint: false });
  // The event source mappings' receives and deletes: Lambda's calls, not the functions' (sqs-wire.ts).
  const wire = new SqsWire(endpoint, agent);

  const queues = {} as Record<'ingest' | 'order' | 'delivery', QueuePair>;
  for (const stage of Object.values(PIPELINE))
    queues[stage.queue] = await createQueuePair(sqs, `${topicName}-${stage.queue}`, stage);
  const topicArn = (await sns.send(new CreateTopicCommand({ Name: topicName }))).TopicArn as string;
  await sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: queues.ingest.arn,
      Attributes: { RawMessageDelivery: 'false' },
      ReturnSubscriptionArn: true,
    }),
  );

  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one listener per poller
  let stopped = false;
  const loops: Promise<void>[] = [];
  for (const stage of Object.values(PIPELINE)) {
    const handler = opts.handlers[stage.fn as keyof PipelineHandlers];
    for (let i = 0; i < stage.maxConcurrency; i++) loops.push(poll(stage, queues[stage.queue], handler));
  }

  async function poll(stage: QueueStage, queue: QueuePair, handler: Handler): Promise<void> {
    while (!stopped) {
      let messages: Message[];
      try {
        messages = await wire.receive(
          { QueueUrl: queue.url, MaxNumberOfMessages: stage.batchSize, WaitTimeSeconds: POLL_WAIT_SECONDS },
          abort.signal,
        );
      } catch (err) {
        if (stopped) return;
        log('warn', `receiving from the ${stage.queue} queue failed: ${(err as Error)?.message ?? String(err)}`);
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (messages.length === 0) continue;
      if (!stage.fifo) duplicate(stage, queue, handler, messages);
      await runBatch(stage, queue, handler, messages).catch((err: unknown) =>
        log('warn', `${stage.fn}: could not settle a batch: ${(err as Error)?.message ?? String(err)}`),
      );
    }
  }

  async function runBatch(stage: QueueStage, queue: QueuePair, handler: Handler, messages: Message[]): Promise<void> {
    const event = { Records: messages.map((m) => sqsRecord(m, queue.arn, opts.region)) };
    const crash = stage.fn === 'fanout' && opts.takeFanoutFailure?.() === true;
    let result: unknown;
    try {
      result = await invoke(handler, event, { fn: stage.fn, faults: opts.faults, crashAtCall: crash ? 1 : undefined });
    } catch (err) {
      // As on AWS: the whole batch comes back after the queue's visibility timeout.
      const error = (err as Error)?.message ?? String(err);
      log(
        'warn',
        `${stage.fn} invocation failed (${messages.length} records; they return after ${visibilityTimeoutSeconds(stage)} s): ${error}`,
      );
      emit({ type: 'invocation', fn: stage.fn, outcome: 'error', records: messages.length, error });
      if (stage.fn === 'fanout') for (const m of messages) emitFanout(m, stage, 'failed', error);
      return;
    }
    const failures = batchItemFailures(result, messages);
    if (failures.size > 0) emit({ type: 'retried', fn: stage.fn, records: failures.size, at: Date.now() });
    const done = messages.filter((m) => !failures.has(m.MessageId as string));
    for (let i = 0; i < done.length; i += 10)
      await wire.deleteBatch(
        queue.url,
        done.slice(i, i + 10).map((m) => m.ReceiptHandle as string),
      );
    if (stage.fn === 'fanout') {
      for (const m of messages)
        emitFanout(m, stage, failures.has(m.MessageId as string) ? 'failed' : 'ok', 'reported as a batch item failure');
    }
    if (stage.fn === 'deliver')
      emit({ type: 'delivered', ids: done.flatMap((m) => laneEventIds(m.Body)), at: Date.now() });
    if (stage.fn === 'sequencer')
      emit({
        type: 'sequenced',
        ids: done.flatMap((m) => (parseOrderBody(m.Body ?? '') ?? []).map((e) => e.id)),
      });
  }

  /**
   * `sqs_duplicate`: SNS and SQS standard queues deliver at least once, so a message may reach two
   * invocations at the same time. Each copy runs in an invocation of its own beside the batch (so it
   * travels with other neighbours than the original, as a repeat on AWS does); the original keeps the
   * message (deletes it, or lets it come back), so a copy's outcome is only logged.
   */
  const duplicates = new Set<Promise<void>>();
  function duplicate(stage: QueueStage, queue: QueuePair, handler: Handler, messages: Message[]): void {
    const faults = opts.faults;
    const copies = faults ? messages.filter(() => faults.roll('sqs_duplicate')) : [];
    if (copies.length === 0) return;
    emit({ type: 'duplicated', fn: stage.fn, records: copies.length });
    for (const copy of copies) {
      const run = invoke(
        handler,
        { Records: [sqsRecord(copy, queue.arn, opts.region)] },
        { fn: stage.fn, faults: opts.faults },
      ).then(
        (result) => {
          if (batchItemFailures(result, [copy]).size > 0)
            log('warn', `${stage.fn}: a duplicated record failed in its copy`);
        },
        (err: unknown) =>
          log(
            'warn',
            `${stage.fn}: the invocation of a duplicated record failed: ${(err as Error)?.message ?? String(err)}`,
          ),
      );
      duplicates.add(run);
      void run.finally(() => duplicates.delete(run));
    }
  }

  function emitFanout(m: Message, stage: QueueStage, outcome: 'ok' | 'failed', error: string): void {
    const attempt = Number(m.Attributes?.ApproximateReceiveCount ?? '1');
    const messageId = snsMessageId(m.Body) ?? m.MessageId ?? '';
    if (outcome === 'ok') emit({ type: 'fanout', messageId, outcome, attempt });
    else
      emit({
        type: 'fanout',
        messageId,
        outcome: attempt >= stage.maxReceiveCount ? 'parked' : 'failed',
        attempt,
        error,
      });
  }

  return {
    endpoint,
    port,
    topicArn,
    queues,
    async stop() {
      stopped = true;
      abort.abort();
      await Promise.allSettled([...loops, ...duplicates]);
      sns.destroy();
      sqs.destroy();
      agent.destroy();
      await app?.close();
    },
  };
}

/**
 * fauxqs in a child process (local/fauxqs-main.ts), so the emulator's work runs on another core than
 * the handlers. It stops when this process closes its stdin or goes away (even after SIGKILL).
 */
async function startFauxqs(
  port: number,
  host: string,
  region: string,
  onUnexpectedExit: (message: string) => void,
): Promise<{ endpoint: string; close(): Promise<void> }> {
  const ts = __filename.endsWith('.ts');
  const main = path.join(__dirname, ts ? 'fauxqs-main.ts' : 'fauxqs-main.js');
  const child = spawn(process.execPath, [...(ts ? ['--import', 'tsx'] : []), main, String(port), host, region], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.on('error', () => undefined);
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let closing = false;
  const listening = await new Promise<number>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
      const m = /LISTENING (\d+)/.exec(output);
      if (m) resolve(Number(m[1]));
      else if (output.includes('IN_USE')) reject(new PortInUseError(port, 'SNS_PORT'));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) =>
      reject(
        new Error(
          `the SQS emulator (fauxqs) exited (code ${code}) before it listened: ${output.trim().split('\n').slice(-3).join(' | ')}`,
        ),
      ),
    );
  }).catch(async (err: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw err;
  });
  void exited.then((code) => {
    if (!closing)
      onUnexpectedExit(
        `the SQS emulator (fauxqs) exited unexpectedly (exit code ${code ?? 'none'})${output ? `: ${output.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
      );
  });
  return {
    endpoint: `http://${host}:${listening}`,
    async close() {
      closing = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function createQueuePair(sqs: SQSClient, name: string, stage: QueueStage): Promise<QueuePair> {
  const fifo = stage.fifo ? { FifoQueue: 'true', ContentBasedDeduplication: 'false' } : undefined;
  const suffix = stage.fifo ? '.fifo' : '';
  const dlqUrl = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: `${name}-dlq${suffix}`,
        Attributes: { MessageRetentionPeriod: '1209600', ...fifo },
      }),
    )
  ).QueueUrl as string;
  const dlqArn = await queueArn(sqs, dlqUrl);
  const url = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: `${name}${suffix}`,
        Attributes: {
          VisibilityTimeout: String(visibilityTimeoutSeconds(stage)),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: dlqArn,
            maxReceiveCount: String(stage.maxReceiveCount),
          }),
          ...fifo,
          ...(stage.fifo &&
            stage.queue === 'delivery' && {
              DeduplicationScope: 'messageGroup',
              FifoThroughputLimit: 'perMessageGroupId',
            }),
        },
      }),
    )
  ).QueueUrl as string;
  return { url, arn: await queueArn(sqs, url), dlqUrl };
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  return (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes
    ?.QueueArn as string;
}

/** Lambda's reading of a partial batch response: an invalid one fails the whole batch. */
function batchItemFailures(result: unknown, messages: Message[]): Set<string> {
  const all = new Set(messages.map((m) => m.MessageId as string));
  if (result === undefined || result === null) return new Set();
  const list = (result as { batchItemFailures?: unknown }).batchItemFailures;
  if (list === undefined) return new Set();
  if (!Array.isArray(list)) return all;
  const out = new Set<string>();
  for (const f of list) {
    const id = (f as { itemIdentifier?: unknown })?.itemIdentifier;
    if (typeof id !== 'string' || !all.has(id)) return all;
    out.add(id);
  }
  return out;
}

function laneEventIds(body: string | undefined): string[] {
  const m = parseLaneMessage(body ?? '');
  return (m?.events ?? []).map(laneEventId);
}

/** A string field of a JSON message body, if the body is JSON and the field a string. */
function stringField(body: string | undefined, field: string): string | undefined {
  try {
    const value = (JSON.parse(body ?? '') as Record<string, unknown>)[field];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

const snsMessageId = (body: string | undefined) => stringField(body, 'MessageId');
