import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Switchboard } from '../../infra/switchboard-construct';
import {
  DEFAULT_DELIVERY_LANES,
  DEFAULT_SHARD_SIZE,
  FUNCTION_SETTINGS,
  PIPELINE,
  PIPELINE_ENV,
  VISIBILITY_FACTOR,
} from '../../shared/pipeline';
import { FUNCTIONS, type FunctionName } from '../../shared/routes';
import { pipelineViolations } from './pipeline-invariants';
import { actionsOf, functionLogicalId, logicalId, resourcesOf, synth, type Resources, type Statement } from './synth';

/**
 * The pipeline of shared/pipeline.ts as deployed: every number here comes from that table, so the
 * tests fail when the stack stops reading it (and the local runtime reads the same table).
 */
let template: Template;
let resources: Resources;
beforeAll(() => {
  template = synth().template;
  resources = resourcesOf(template);
});

const STAGES = Object.values(PIPELINE);
const fnId = (name: FunctionName) => functionLogicalId(template, name);
const queueId = (stage: string) =>
  logicalId(template, 'AWS::SQS::Queue', `Pipeline${stage.charAt(0).toUpperCase()}${stage.slice(1)}Queue`);
const getAtt = (ref: unknown): string => (ref as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
const roleStatements = (name: FunctionName): Statement[] => {
  const roleId = getAtt(resources[fnId(name)]!.Properties!.Role);
  return Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
    .filter((p) => (p.Properties!.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => p.Properties!.PolicyDocument.Statement as Statement[]);
};

describe('queues and event source mappings', () => {
  test('SNS → ingest queue (standard) with raw delivery off, so fanout reads the SNS envelope', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sqs',
      TopicArn: { Ref: logicalId(template, 'AWS::SNS::Topic', 'SwitchboardTopic') },
      Endpoint: { 'Fn::GetAtt': [queueId('ingest'), 'Arn'] },
      RawMessageDelivery: false,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(template, 'AWS::SQS::Queue', 'SubscriptionDlq'), 'Arn'] },
      },
    });
    expect(resources[queueId('ingest')]!.Properties!.FifoQueue).toBeUndefined();
  });

  test('the ingest queue lets this topic, and only it, send; it is encrypted with keys SNS may use', () => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId('ingest') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'sns.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Resource: { 'Fn::GetAtt': [queueId('ingest'), 'Arn'] },
            Condition: {
              ArnEquals: { 'aws:SourceArn': { Ref: logicalId(template, 'AWS::SNS::Topic', 'SwitchboardTopic') } },
            },
          }),
        ]),
      },
    });
    // SQS-managed SSE: SNS writes without a key policy (a customer key would need one for sns.amazonaws.com).
    expect(resources[queueId('ingest')]!.Properties).toMatchObject({ SqsManagedSseEnabled: true });
    expect(resources[queueId('ingest')]!.Properties!.KmsMasterKeyId).toBeUndefined();
  });

  test('order and delivery queues are FIFO with sender-given deduplication ids; delivery in high-throughput mode', () => {
    expect(resources[queueId('order')]!.Properties).toMatchObject({
      FifoQueue: true,
      ContentBasedDeduplication: false,
    });
    expect(resources[queueId('order')]!.Properties!.DeduplicationScope).toBeUndefined();
    expect(resources[queueId('delivery')]!.Properties).toMatchObject({
      FifoQueue: true,
      ContentBasedDeduplication: false,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
    });
  });

  test.each(STAGES)('$queue → $fn: visibility timeout, dead-letter queue and mapping from the table', (stage) => {
    const q = resources[queueId(stage.queue)]!;
    expect(q.Properties).toMatchObject({
      VisibilityTimeout: VISIBILITY_FACTOR * FUNCTION_SETTINGS[stage.fn].timeoutSeconds,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { maxReceiveCount: stage.maxReceiveCount },
    });
    const dlq = resources[getAtt(q.Properties!.RedrivePolicy.deadLetterTargetArn)]!;
    expect(dlq.Properties).toMatchObject({
      MessageRetentionPeriod: 14 * 86400,
      SqsManagedSseEnabled: true,
      ...(stage.fifo && { FifoQueue: true }),
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId(stage.queue), 'Arn'] },
      FunctionName: { Ref: fnId(stage.fn) },
      BatchSize: stage.batchSize,
      ScalingConfig: { MaximumConcurrency: stage.maxConcurrency },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(resources[fnId(stage.fn)]!.Properties).toMatchObject({
      Timeout: FUNCTION_SETTINGS[stage.fn].timeoutSeconds,
      MemorySize: FUNCTION_SETTINGS[stage.fn].memoryMb,
    });
  });

  test('exactly three mappings, and they hold the invariants (visibility ≥ 6 × timeout, a DLQ of the same kind, partial failures)', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', STAGES.length);
    expect(pipelineViolations(resources)).toEqual([]);
  });

  test('the invariant check catches a short visibility timeout and a missing or mismatched DLQ', () => {
    const broken = JSON.parse(JSON.stringify(resources)) as Resources;
    broken[queueId('delivery')]!.Properties!.VisibilityTimeout =
      VISIBILITY_FACTOR * FUNCTION_SETTINGS.deliver.timeoutSeconds - 1;
    delete broken[queueId('order')]!.Properties!.RedrivePolicy;
    const ingestDlq = getAtt(broken[queueId('ingest')]!.Properties!.RedrivePolicy.deadLetterTargetArn);
    broken[ingestDlq]!.Properties!.FifoQueue = true;
    expect(pipelineViolations(broken)).toEqual([
      expect.stringMatching(/Ingest.*dead-letter queue is not of the same kind/),
      expect.stringMatching(/Order.*no dead-letter queue/),
      expect.stringMatching(/Order.*no maxReceiveCount/),
      expect.stringMatching(
        new RegExp(
          `Delivery.*visibility timeout ${VISIBILITY_FACTOR * FUNCTION_SETTINGS.deliver.timeoutSeconds - 1} s < 6 × ${FUNCTION_SETTINGS.deliver.timeoutSeconds} s`,
        ),
      ),
    ]);
  });

  test('every timeout and memory size comes from FUNCTION_SETTINGS; nothing reserves concurrency or retries asynchronously', () => {
    for (const name of FUNCTIONS) {
      expect(resources[fnId(name)]!.Properties).toMatchObject({
        Timeout: FUNCTION_SETTINGS[name].timeoutSeconds,
        MemorySize: FUNCTION_SETTINGS[name].memoryMb,
      });
      expect(resources[fnId(name)]!.Properties!.ReservedConcurrentExecutions).toBeUndefined();
    }
    template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 0);
    // No function is invoked by SNS directly (that would be Lambda's async queue again).
    for (const p of Object.values(resourcesOf(template, 'AWS::Lambda::Permission')))
      expect(p.Properties!.Principal).not.toBe('sns.amazonaws.com');
  });
});

describe('environment and grants', () => {
  const env = (name: FunctionName) =>
    resources[fnId(name)]!.Properties!.Environment.Variables as Record<string, unknown>;

  test('each consumer gets its own queue URL and the next one; every function gets lanes and shard size', () => {
    expect(env('fanout')).toMatchObject({
      [PIPELINE_ENV.ingestQueueUrl]: { Ref: queueId('ingest') },
      [PIPELINE_ENV.orderQueueUrl]: { Ref: queueId('order') },
    });
    expect(env('sequencer')).toMatchObject({
      [PIPELINE_ENV.orderQueueUrl]: { Ref: queueId('order') },
      [PIPELINE_ENV.deliveryQueueUrl]: { Ref: queueId('delivery') },
    });
    expect(env('deliver')).toMatchObject({ [PIPELINE_ENV.deliveryQueueUrl]: { Ref: queueId('delivery') } });
    for (const name of FUNCTIONS)
      expect(env(name)).toMatchObject({
        [PIPELINE_ENV.lanes]: String(DEFAULT_DELIVERY_LANES),
        [PIPELINE_ENV.shardSize]: String(DEFAULT_SHARD_SIZE),
      });
    for (const name of ['connect', 'disconnect', 'message', 'http'] as const)
      expect(Object.keys(env(name)).filter((k) => k.endsWith('_QUEUE_URL'))).toEqual([]);
  });

  test('SQS permissions: consume (incl. ChangeMessageVisibility) on the own source queue, SendMessage on the next, nothing else', () => {
    const sqsOf = (name: FunctionName) =>
      roleStatements(name)
        .filter((s) => actionsOf(s).some((a) => a.startsWith('sqs:')))
        .map((s) => ({ actions: actionsOf(s).sort(), queue: getAtt(s.Resource) }));
    const consume = [
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ReceiveMessage',
    ];
    expect(sqsOf('fanout')).toEqual([
      { actions: consume, queue: queueId('ingest') },
      { actions: ['sqs:SendMessage'], queue: queueId('order') },
    ]);
    expect(sqsOf('sequencer')).toEqual([
      { actions: consume, queue: queueId('order') },
      { actions: ['sqs:SendMessage'], queue: queueId('delivery') },
    ]);
    expect(sqsOf('deliver')).toEqual([{ actions: consume, queue: queueId('delivery') }]);
    for (const name of ['connect', 'disconnect', 'message', 'http'] as const) expect(sqsOf(name)).toEqual([]);
  });
});

describe('pipeline props', () => {
  const build = (props: ConstructorParameters<typeof Switchboard>[2]) => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Pipeline');
    new Switchboard(stack, 'Switchboard', props);
    return Template.fromStack(stack);
  };

  test('deliveryLanes, shardSize and deliverMaxConcurrency reach the functions and the delivery mapping', () => {
    const t = build({ deliveryLanes: 64, shardSize: 200, deliverMaxConcurrency: 40 });
    for (const fn of Object.values(resourcesOf(t, 'AWS::Lambda::Function'))) {
      expect(fn.Properties!.Environment.Variables).toMatchObject({
        [PIPELINE_ENV.lanes]: '64',
        [PIPELINE_ENV.shardSize]: '200',
      });
    }
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 40 },
      BatchSize: PIPELINE.delivery.batchSize,
    });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: PIPELINE.order.maxConcurrency },
    });
  });

  test('values the pipeline cannot run with fail at synth, all named at once', () => {
    expect(() => build({ deliveryLanes: 0, shardSize: 1.5, deliverMaxConcurrency: 1 })).toThrow(
      /deliveryLanes must be an integer from 1 .*got 0; shardSize must be an integer .*got 1\.5; deliverMaxConcurrency must be an integer from 2 to 1000, got 1/,
    );
    expect(() => build({ deliverMaxConcurrency: 1001 })).toThrow(/deliverMaxConcurrency/);
  });

  test('a memory override changes that function only; an unknown function name is refused', () => {
    const t = build({ functions: { deliver: { memorySize: 2048 } } });
    const memory = Object.fromEntries(
      Object.entries(resourcesOf(t, 'AWS::Lambda::Function')).map(([id, f]) => [
        FUNCTIONS.find((n) => id.includes(`${n.charAt(0).toUpperCase()}${n.slice(1)}Function`)),
        f.Properties!.MemorySize,
      ]),
    );
    expect(memory).toEqual(
      Object.fromEntries(FUNCTIONS.map((n) => [n, n === 'deliver' ? 2048 : FUNCTION_SETTINGS[n].memoryMb])),
    );
    expect(() => build({ functions: { fanOut: { memorySize: 256 } } as never })).toThrow(
      /functions\.fanOut: no such function/,
    );
    expect(() => build({ functions: { http: { memorySize: 64 } } })).toThrow(
      /functions\.http\.memorySize must be an integer from 128 to 10240/,
    );
  });
});
