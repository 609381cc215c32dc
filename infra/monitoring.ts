import { Duration, Stack } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PIPELINE, visibilityTimeoutSeconds } from '../shared/pipeline';
import { FUNCTIONS, type FunctionName } from '../shared/routes';

export interface SwitchboardMonitoringProps {
  readonly functions: Record<FunctionName, lambda.IFunction>;
  /** The pipeline's source queues, by stage (shared/pipeline.ts). */
  readonly queues: Record<keyof typeof PIPELINE, sqs.IQueue>;
  /** Dead-letter queues by a short name used in alarm ids. */
  readonly deadLetterQueues: Record<string, sqs.IQueue>;
  readonly topic: sns.ITopic;
  /** Key for a created alarm topic (CloudWatch is allowed to use it); needed unless `alarmTopic` is given. */
  readonly topicKey?: kms.IKey;
  readonly webSocketApi: apigwv2.IWebSocketApi;
  readonly webSocketStage: string;
  readonly httpApi: apigwv2.IHttpApi;
  /** @default - a new topic encrypted with `topicKey` */
  readonly alarmTopic?: sns.ITopic;
  /** @default - no e-mail subscription */
  readonly alarmEmail?: string;
}

/** Powertools metrics of the handlers (shared/runtime.ts, shared/sns-records.ts). */
const APP_NAMESPACE = 'Switchboard';
const APP_DIMENSIONS = { service: 'switchboard' };
const FIVE_MINUTES = Duration.minutes(5);

/** Alarms that page someone, and one dashboard for connections, messages, deliveries and latency. */
export class SwitchboardMonitoring extends Construct {
  readonly alarmTopic: sns.ITopic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: SwitchboardMonitoringProps) {
    super(scope, id);
    if (props.alarmTopic) allowCloudWatchAlarms(props.alarmTopic);
    if (!props.alarmTopic && !props.topicKey)
      throw new Error('SwitchboardMonitoring: give alarmTopic, or topicKey to encrypt the alarm topic it creates');
    this.alarmTopic = props.alarmTopic ?? this.createAlarmTopic(props.topicKey!);
    if (props.alarmEmail) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    const { functions: fns } = props;
    const pipelineFns = Object.values(PIPELINE).map((stage) => stage.fn);
    const ws = (metricName: string, statistic = 'Sum') =>
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.webSocketApi.apiId, Stage: props.webSocketStage },
        statistic,
        period: FIVE_MINUTES,
      });
    const app = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: APP_NAMESPACE,
        metricName,
        dimensionsMap: APP_DIMENSIONS,
        statistic: 'Sum',
        period: FIVE_MINUTES,
      });
    const sumOf = (
      label: string,
      metric: (fn: lambda.IFunction) => cloudwatch.IMetric,
      names: readonly FunctionName[],
    ) =>
      new cloudwatch.MathExpression({
        label,
        expression: names.map((n) => `m_${n}`).join(' + '),
        usingMetrics: Object.fromEntries(names.map((n) => [`m_${n}`, metric(fns[n])])),
        period: FIVE_MINUTES,
      });

    // The pipeline's consumers report failed records to their event source mapping (they are retried,
    // then dead-lettered) and fail the invocation only on a crash or timeout: page on any.
    for (const stage of Object.values(PIPELINE)) {
      this.alarm(
        `${pascal(stage.fn)}Errors`,
        fns[stage.fn].metricErrors({ statistic: 'Sum', period: Duration.minutes(1) }),
        1,
        `The ${stage.fn} function crashed or timed out: its batch is retried, events may be delayed.`,
      );
    }
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      this.alarm(
        `${pascal(name)}DlqNotEmpty`,
        queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: FIVE_MINUTES }),
        1,
        `The ${name} dead-letter queue holds messages that were never processed; inspect and redrive them (docs/deploy.md).`,
      );
    }
    // A message older than its queue's visibility timeout has failed at least once or waits behind a
    // backlog: events reach browsers late. The order queue is one message group, so a message that
    // keeps failing there holds up every event until it is dead-lettered.
    for (const [name, queue] of Object.entries(props.queues) as [keyof typeof PIPELINE, sqs.IQueue][]) {
      this.alarm(
        `${pascal(name)}QueueAge`,
        queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: Duration.minutes(1) }),
        visibilityTimeoutSeconds(PIPELINE[name]),
        `Messages wait in the ${name} queue longer than its visibility timeout: ${PIPELINE[name].fn} is failing or cannot keep up.`,
      );
    }
    this.alarm(
      'FunctionErrors',
      sumOf('Errors (connect, disconnect, message, http)', (f) => f.metricErrors({ statistic: 'Sum' }), [
        'connect',
        'disconnect',
        'message',
        'http',
      ]),
      5,
      'Handlers are failing: clients see closed handshakes, error frames or 500s.',
    );
    this.alarm(
      'Throttles',
      sumOf('Throttles (all functions)', (f) => f.metricThrottles({ statistic: 'Sum' }), FUNCTIONS),
      1,
      "Lambda throttled a Switchboard function (the account's concurrency quota is reached).",
    );
    this.alarm(
      'HttpServerErrors',
      props.httpApi.metricServerError({ statistic: 'Sum', period: FIVE_MINUTES }),
      5,
      'The HTTP API answered 5xx.',
    );
    // IntegrationError also counts $connect answers of 401/403 (bad or expired tokens), so the
    // threshold leaves room for clients with stale tokens.
    this.alarm(
      'WebSocketIntegrationErrors',
      ws('IntegrationError'),
      50,
      'Many WebSocket requests failed in their integration (function errors, or a flood of rejected tokens).',
    );
    this.alarm(
      'WebSocketExecutionErrors',
      ws('ExecutionError'),
      5,
      'API Gateway could not call a WebSocket integration.',
    );

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
      new cloudwatch.GraphWidget({ title, left, right, width: 12, height: 6 });
    this.dashboard.addWidgets(
      graph('Connections', [ws('ConnectCount')], [ws('ClientError'), ws('IntegrationError')]),
      graph(
        'Messages',
        [
          props.topic.metricNumberOfMessagesPublished({ period: FIVE_MINUTES, statistic: 'Sum' }),
          app('Published'),
          ws('MessageCount'),
        ],
        [app('DuplicateMessage'), app('InvalidMessage'), app('FailedMessage')],
      ),
    );
    this.dashboard.addWidgets(
      graph('Deliveries', [app('Delivered')], [app('GoneConnections'), app('FailedDeliveries')]),
      graph(
        'Latency (p99, ms)',
        [
          ...pipelineFns.map((n) =>
            fns[n].metricDuration({ statistic: 'p99', period: FIVE_MINUTES, label: `${n} p99` }),
          ),
          ws('IntegrationLatency', 'p99'),
          props.httpApi.metricLatency({ statistic: 'p99', period: FIVE_MINUTES }),
        ],
        pipelineFns.map((n) => fns[n].metricDuration({ statistic: 'p50', period: FIVE_MINUTES, label: `${n} p50` })),
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Pipeline queues (age of oldest message, s)',
        Object.entries(props.queues).map(([name, q]) =>
          q.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: FIVE_MINUTES, label: name }),
        ),
        Object.entries(props.queues).map(([name, q]) =>
          q.metricApproximateNumberOfMessagesVisible({
            statistic: 'Maximum',
            period: FIVE_MINUTES,
            label: `${name} visible`,
          }),
        ),
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Errors and throttles',
        FUNCTIONS.map((n) => fns[n].metricErrors({ statistic: 'Sum', period: FIVE_MINUTES, label: `${n} errors` })),
        FUNCTIONS.map((n) =>
          fns[n].metricThrottles({ statistic: 'Sum', period: FIVE_MINUTES, label: `${n} throttles` }),
        ),
      ),
      graph(
        'Dead-letter queues',
        Object.entries(props.deadLetterQueues).map(([name, q]) =>
          q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: FIVE_MINUTES, label: name }),
        ),
      ),
    );
  }

  private alarm(id: string, metric: cloudwatch.IMetric, threshold: number, description: string): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `Switchboard: ${description}`,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));
    alarm.addOkAction(new actions.SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
  }

  /**
   * CloudWatch publishes to a topic only when the topic policy allows it, and to an encrypted topic
   * only when the key policy lets it use the key. `enforceSSL` gives the topic a policy of its own,
   * which replaces SNS's default one, so the allow must be explicit.
   */
  private createAlarmTopic(key: kms.IKey): sns.Topic {
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
      }),
    );
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Switchboard alarms',
      masterKey: key,
      enforceSSL: true,
    });
    allowCloudWatchAlarms(topic);
    return topic;
  }
}

/**
 * Lets CloudWatch alarms of this account (aws:SourceAccount: no other account's alarms, the
 * confused-deputy guard) publish to `topic`. Works on topics defined in this app; an imported topic's
 * policy is its owner's to set (docs/deploy.md, "Bringing your own alarm topic").
 * @returns whether the statement was added
 */
export function allowCloudWatchAlarms(topic: sns.ITopic): boolean {
  return topic.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowCloudWatchAlarmsOfThisAccount',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(topic).account } },
    }),
  ).statementAdded;
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
