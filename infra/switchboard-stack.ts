import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Switchboard, type SwitchboardProps } from './switchboard-construct';

export interface SwitchboardStackProps extends StackProps {
  /** Passed to the {@link Switchboard} construct. @default - its defaults */
  readonly switchboard?: SwitchboardProps;
}

/** One Switchboard and the outputs operators and backends need (docs/deploy.md). */
export class SwitchboardStack extends Stack {
  readonly switchboard: Switchboard;

  constructor(scope: Construct, id: string, props: SwitchboardStackProps = {}) {
    super(scope, id, { description: 'Switchboard: realtime push over API Gateway WebSockets, fed by SNS', ...props });
    const sb = (this.switchboard = new Switchboard(this, 'Switchboard', props.switchboard));

    new CfnOutput(this, 'WebSocketUrl', {
      value: sb.webSocketStage.url,
      description: 'Browsers connect to <url>?token=<JWT>',
    });
    new CfnOutput(this, 'HttpUrl', {
      value: sb.httpStage.url,
      description: 'HTTP API: GET /version, /events, /channels/<name>, /stats, /health',
    });
    new CfnOutput(this, 'TopicArn', {
      value: sb.topic.topicArn,
      description: 'Backends publish events here (aws sns publish --topic-arn ...)',
    });
    new CfnOutput(this, 'TableName', { value: sb.table.tableName });
    new CfnOutput(this, 'PublisherPolicyArn', {
      value: sb.publisherPolicy.managedPolicyArn,
      description: 'Attach to backend roles/users that publish',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: sb.monitoring.alarmTopic.topicArn });
    if (sb.generatedJwtSecret) {
      new CfnOutput(this, 'JwtSecretArn', {
        value: sb.generatedJwtSecret.secretArn,
        description:
          'Generated HS256 token secret: aws secretsmanager get-secret-value --secret-id <arn> --query SecretString --output text',
      });
    }
  }
}
