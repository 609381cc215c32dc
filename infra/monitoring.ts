import { Duration } from 'aws-cdk-lib';
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
import { FUNCTIONS, type FunctionName } from '../shared/routes';

export interface SwitchboardMonitoringProps {
  readonly functions: Record<FunctionName, lambda.IFunction>;
  /** Dead-letter queues by a short name used in alarm ids. */
  readonly deadLetterQueues: Record<string, sqs.IQueue>;
  readonly topic: sns.ITopic;
  /** Key of the event topic, reused for a created alarm topic (CloudWatch is allowed to use it). */
  readonly topicKey: kms.IKey;
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
    this.alarmTopic = props.alarmTopic ?? this.createAlarmTopic(props.topicKey);
    if (props.alarmEmail) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    const { functions: fns } = props;
    const ws = (metricName: string, statistic = 'Sum') =>
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.webSocketApi.apiId, Stage: props.webSocketStage },
        statistic,
        period: FIVE_MINUTES,
      });
    const app = (metricName: string) => new cloudwatch.Metric({ namespace: APP_NAMESPACE, metricName, dimensionsMap: APP_DIMENSIONS, statistic: 'Sum', period: FIVE_MINUTES });
    const sumOf = (label: string, metric: (fn: lambda.IFunction) => cloudwatch.IMetric, names: readonly FunctionName[]) =>
      new cloudwatch.MathExpression({
        label,
        expression: names.map((n) => `m_${n}`).join(' + '),
        usingMetrics: Object.fromEntries(names.map((n) => [`m_${n}`, metric(fns[n])])),
        period: FIVE_MINUTES,
      });

    this.alarm('FanoutErrors', fns.fanout.metricErrors({ statistic: 'Sum', period: Duration.minutes(1) }), 1, 'The fanout function failed: events may be delayed (Lambda retries twice, then the failure queue).');
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      this.alarm(`${name}NotEmpty`, queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: FIVE_MINUTES }), 1, `${name} holds events that were never delivered; inspect and redrive them.`);
    }
    this.alarm('FunctionErrors', sumOf('Errors (connect, disconnect, message, http)', (f) => f.metricErrors({ statistic: 'Sum' }), ['connect', 'disconnect', 'message', 'http']), 5, 'Handlers are failing: clients see closed handshakes, error frames or 500s.');
    this.alarm('Throttles', sumOf('Throttles (all functions)', (f) => f.metricThrottles({ statistic: 'Sum' }), FUNCTIONS), 1, 'Lambda throttled a Switchboard function (account concurrency, or fanout reserved concurrency reached).');
    this.alarm('HttpServerErrors', props.httpApi.metricServerError({ statistic: 'Sum', period: FIVE_MINUTES }), 5, 'The HTTP API answered 5xx.');
    // IntegrationError also counts $connect answers of 401/403 (bad or expired tokens), so the
    // threshold leaves room for clients with stale tokens.
    this.alarm('WebSocketIntegrationErrors', ws('IntegrationError'), 50, 'Many WebSocket requests failed in their integration (function errors, or a flood of rejected tokens).');
    this.alarm('WebSocketExecutionErrors', ws('ExecutionError'), 5, 'API Gateway could not call a WebSocket integration.');

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) => new cloudwatch.GraphWidget({ title, left, right, width: 12, height: 6 });
    this.dashboard.addWidgets(
      graph('Connections', [ws('ConnectCount')], [ws('ClientError'), ws('IntegrationError')]),
      graph('Messages', [props.topic.metricNumberOfMessagesPublished({ period: FIVE_MINUTES, statistic: 'Sum' }), app('Published'), ws('MessageCount')], [app('DuplicateMessage'), app('InvalidMessage'), app('FailedMessage')]),
    );
    this.dashboard.addWidgets(
      graph('Deliveries', [app('Delivered')], [app('GoneConnections'), app('FailedDeliveries')]),
      graph(
        'Latency (p99, ms)',
        [fns.fanout.metricDuration({ statistic: 'p99', period: FIVE_MINUTES }), ws('IntegrationLatency', 'p99'), props.httpApi.metricLatency({ statistic: 'p99', period: FIVE_MINUTES })],
        [fns.fanout.metricDuration({ statistic: 'p50', period: FIVE_MINUTES })],
      ),
    );
    this.dashboard.addWidgets(
      graph('Errors and throttles', FUNCTIONS.map((n) => fns[n].metricErrors({ statistic: 'Sum', period: FIVE_MINUTES, label: `${n} errors` })), FUNCTIONS.map((n) => fns[n].metricThrottles({ statistic: 'Sum', period: FIVE_MINUTES, label: `${n} throttles` }))),
      graph('Dead-letter queues', Object.entries(props.deadLetterQueues).map(([name, q]) => q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: FIVE_MINUTES, label: name }))),
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

  /** CloudWatch publishes to an encrypted topic only when the key policy lets it use the key. */
  private createAlarmTopic(key: kms.IKey): sns.Topic {
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
      }),
    );
    return new sns.Topic(this, 'AlarmTopic', { displayName: 'Switchboard alarms', masterKey: key, enforceSSL: true });
  }
}
