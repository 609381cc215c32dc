import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PIPELINE, PIPELINE_ENV, visibilityTimeoutSeconds, type QueueStage } from '../shared/pipeline';
import type { FunctionName } from '../shared/routes';

/** The three stages of shared/pipeline.ts, by name. */
export type PipelineStage = keyof typeof PIPELINE;
const STAGES = Object.keys(PIPELINE) as PipelineStage[];

/** SQS keeps a message at most 14 days; a dead-letter queue keeps it that long for inspection and redrive. */
const DLQ_RETENTION = Duration.days(14);

export interface SwitchboardPipelineProps {
  /** The event topic backends publish to (standard, not FIFO). */
  readonly topic: sns.ITopic;
  /** The consumers: `fanout`, `sequencer` and `deliver`, as named in PIPELINE. */
  readonly functions: Record<FunctionName, lambda.Function>;
  /** Concurrent `deliver` invocations at most (PIPELINE.delivery.maxConcurrency unless given). */
  readonly deliverMaxConcurrency: number;
  /** Applied to the dead-letter queues, which may hold events nobody has looked at yet. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The delivery pipeline of shared/pipeline.ts on AWS (docs/deploy.md, "Pipeline"):
 *
 *   topic ─SNS→ ingest (standard) ─ESM→ fanout ─SendMessage→ order (FIFO) ─ESM→ sequencer
 *         ─SendMessage→ delivery (FIFO, one message group per lane) ─ESM→ deliver
 *
 * Every setting comes from the PIPELINE table that the local runtime also reads. Each source queue
 * has a visibility timeout of VISIBILITY_FACTOR × its consumer's timeout and a dead-letter queue
 * after `maxReceiveCount` receives; each event source mapping reports partial batch failures and
 * bounds its consumer's concurrency (no reserved concurrency, which small accounts cannot give).
 */
export class SwitchboardPipeline extends Construct {
  /** Source queues by stage: `ingest` (standard), `order` and `delivery` (FIFO). */
  readonly queues: Record<PipelineStage, sqs.Queue>;
  /** Dead-letter queues by stage, plus `subscription` for what SNS could not hand to the ingest queue. */
  readonly deadLetterQueues: Record<PipelineStage | 'subscription', sqs.Queue>;
  /** The event source mappings, by stage. */
  readonly eventSources: Record<PipelineStage, SqsEventSource>;

  constructor(scope: Construct, id: string, props: SwitchboardPipelineProps) {
    super(scope, id);
    const dlqs: Partial<Record<PipelineStage | 'subscription', sqs.Queue>> = {};
    const queues: Partial<Record<PipelineStage, sqs.Queue>> = {};
    for (const name of STAGES) {
      const stage = PIPELINE[name];
      const dlq = (dlqs[name] = this.deadLetterQueue(`${pascal(name)}Dlq`, stage.fifo, props.removalPolicy));
      queues[name] = this.sourceQueue(stage, dlq);
    }
    dlqs.subscription = this.deadLetterQueue('SubscriptionDlq', false, props.removalPolicy);
    this.queues = queues as Record<PipelineStage, sqs.Queue>;
    this.deadLetterQueues = dlqs as Record<PipelineStage | 'subscription', sqs.Queue>;

    // Raw message delivery OFF: the fanout reads SNS's notification JSON from the SQS body (it
    // carries the MessageId that is the default idempotency key). The subscription adds the queue
    // policy that lets this topic, and only it, send; SQS-managed encryption needs no key policy.
    props.topic.addSubscription(
      new subscriptions.SqsSubscription(this.queues.ingest, {
        rawMessageDelivery: false,
        deadLetterQueue: this.deadLetterQueues.subscription,
      }),
    );

    const fns = props.functions;
    const maxConcurrency: Record<PipelineStage, number> = {
      ingest: PIPELINE.ingest.maxConcurrency,
      order: PIPELINE.order.maxConcurrency,
      delivery: props.deliverMaxConcurrency,
    };
    const sources: Partial<Record<PipelineStage, SqsEventSource>> = {};
    for (const name of STAGES) {
      const stage = PIPELINE[name];
      const queue = this.queues[name];
      const fn = fns[stage.fn];
      // The mapping grants Receive/Delete/ChangeMessageVisibility/GetQueueAttributes on its queue.
      // ChangeMessageVisibility is also what a handler calls to make a failed record visible again
      // sooner than the visibility timeout (a quick retry).
      const source = (sources[name] = new SqsEventSource(queue, {
        batchSize: stage.batchSize,
        maxConcurrency: maxConcurrency[name],
        reportBatchItemFailures: true,
      }));
      fn.addEventSource(source);
      // Every consumer knows its own source queue's URL (for ChangeMessageVisibility).
      fn.addEnvironment(PIPELINE_ENV[`${name}QueueUrl`], queue.queueUrl);
    }
    this.eventSources = sources as Record<PipelineStage, SqsEventSource>;

    // Who sends where: exactly SendMessage (which also authorises SendMessageBatch) on the next queue.
    this.sendTo(fns[PIPELINE.ingest.fn], this.queues.order, PIPELINE_ENV.orderQueueUrl);
    this.sendTo(fns[PIPELINE.order.fn], this.queues.delivery, PIPELINE_ENV.deliveryQueueUrl);
  }

  private sendTo(fn: lambda.Function, queue: sqs.Queue, envName: string): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
    fn.addEnvironment(envName, queue.queueUrl);
  }

  /**
   * A source queue: SQS-managed encryption (which SNS can write to without a key policy), TLS only,
   * visibility timeout from the table, dead-letter queue after maxReceiveCount receives. FIFO queues
   * take a MessageDeduplicationId from the sender (no content-based deduplication); the delivery
   * queue runs in high-throughput mode (deduplication and throughput per message group = per lane).
   */
  private sourceQueue(stage: QueueStage, dlq: sqs.Queue): sqs.Queue {
    return new sqs.Queue(this, `${pascal(stage.queue)}Queue`, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(visibilityTimeoutSeconds(stage)),
      deadLetterQueue: { queue: dlq, maxReceiveCount: stage.maxReceiveCount },
      ...(stage.fifo && { fifo: true, contentBasedDeduplication: false }),
      ...(stage.queue === 'delivery' && {
        deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
        fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      }),
    });
  }

  /** Encrypted, TLS-only, 14 days, removed with the stack only when the removal policy says so. */
  private deadLetterQueue(id: string, fifo: boolean, removalPolicy: RemovalPolicy): sqs.Queue {
    const queue = new sqs.Queue(this, id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: DLQ_RETENTION,
      removalPolicy,
      ...(fifo && { fifo: true }),
    });
    Validations.of(queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue (of a pipeline queue, or of the SNS subscription); an alarm fires as soon as it holds a message.',
    });
    return queue;
  }
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
