import { randomUUID } from 'node:crypto';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { createDeliverHandler } from '../../functions/deliver';
import { createFanoutHandler } from '../../functions/fanout';
import { createSequencerHandler } from '../../functions/sequencer';
import { startPipeline, type LocalPipeline, type PipelineEvent } from '../../local/pipeline';
import type { Faults } from '../../local/faults';
import { testRuntime, type TestRuntime } from './runtime';

/**
 * The real pipeline (queues, event source mappings, handlers, function timeouts) in the test
 * process: the SQS emulator from jest's global setup, DynamoDB Local, and the test's management
 * server. Publishing goes through SNS, exactly as a backend's publish does.
 */
export interface TestPipeline {
  pipeline: LocalPipeline;
  events: PipelineEvent[];
  publish(message: Record<string, unknown> | string): Promise<string>;
  /** Resolves once `pred` holds: checked now and whenever an invocation of the pipeline finishes. */
  until(pred: () => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestPipeline(t: TestRuntime, opts: { faults?: Faults } = {}): Promise<TestPipeline> {
  const endpoint = process.env.SWITCHBOARD_TEST_SQS_ENDPOINT as string;
  const events: PipelineEvent[] = [];
  let waiters: { pred: () => boolean; resolve: () => void }[] = [];
  const runtime = async () => t.rt;
  const pipeline = await startPipeline({
    port: 0,
    endpoint,
    region: 'us-east-1',
    topicName: `t-${randomUUID().slice(0, 8)}`,
    handlers: {
      fanout: createFanoutHandler(runtime),
      sequencer: createSequencerHandler(runtime),
      deliver: createDeliverHandler(runtime),
    },
    faults: opts.faults,
    onEvent: (e) => {
      events.push(e);
      waiters = waiters.filter((w) => (w.pred() ? (w.resolve(), false) : true));
    },
  });
  t.rt.config.ingestQueueUrl = pipeline.queues.ingest.url;
  t.rt.config.orderQueueUrl = pipeline.queues.order.url;
  t.rt.config.deliveryQueueUrl = pipeline.queues.delivery.url;
  const sns = new SNSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  return {
    pipeline,
    events,
    async publish(message) {
      const r = await sns.send(
        new PublishCommand({
          TopicArn: pipeline.topicArn,
          Message: typeof message === 'string' ? message : JSON.stringify(message),
        }),
      );
      return r.MessageId as string;
    },
    until(pred, timeoutMs = 20_000) {
      if (pred()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting on the pipeline')), timeoutMs);
        waiters.push({ pred, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    async stop() {
      await pipeline.stop();
      sns.destroy();
    },
  };
}

/**
 * A test runtime and the pipeline on it for every test of a file: started in `beforeAll`, stopped in
 * `afterAll`. Read `t` and `p` inside tests only (they are set once `beforeAll` ran).
 */
export function pipelineForFile(opts: { faults?: Faults } = {}): { t: TestRuntime; p: TestPipeline } {
  const file = {} as { t: TestRuntime; p: TestPipeline };
  beforeAll(async () => {
    file.t = await testRuntime();
    file.p = await startTestPipeline(file.t, opts);
  }, 60_000);
  afterAll(async () => {
    await file.p?.stop();
    await file.t?.stop();
  });
  return file;
}
