import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { ChannelPolicy } from '../../shared/channel-rules';
import { TokenVerifier } from '../../shared/tokens';
import type { LocalRuntime } from '../runtime';
import { createDemoRoutes } from './demo-routes';

/** Mounts the demo booking page and its backend on the local runtime's HTTP server. */
export function mountDemo(runtime: LocalRuntime): void {
  const e = runtime.endpoints;
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const dynamo = new DynamoDBClient({ endpoint: e.dynamodbEndpoint, region: e.region, credentials });
  runtime.mountHttp(
    createDemoRoutes({
      doc: DynamoDBDocumentClient.from(dynamo),
      tableName: e.tableName,
      sns: new SNSClient({ endpoint: e.snsEndpoint, region: e.region, credentials }),
      topicArn: e.topicArn,
      policy: new ChannelPolicy(),
      jwtSecret: e.jwtSecret,
      verifier: new TokenVerifier({ secret: e.jwtSecret }),
      websocketUrl: e.websocketUrl,
      httpUrl: e.httpUrl,
    }),
  );
}
