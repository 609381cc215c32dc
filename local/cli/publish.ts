import {
  CliError,
  endpointsFile,
  explainNetworkError,
  parseCli,
  readEndpoints,
  runCli,
  splitList,
  usageOf,
  type CliOptions,
} from './common';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { parsePublishMessage } from '../../shared/publish-message';

/**
 * `npm run publish -- --channels a,b --event create --data '{"booking_id":9}' [--id key]` publishes
 * one message (protocol §4) to the topic, exactly as a backend would.
 *
 * Local by default (snsEndpoint, topicArn and region from .local/endpoints.json). Against a deployed
 * stack: `--topic-arn arn:aws:sns:...` (or SWITCHBOARD_TOPIC_ARN) with the usual AWS credentials;
 * the region is --region, else the ARN's. `--endpoint URL` (or SWITCHBOARD_SNS_ENDPOINT) points at
 * any SNS-compatible endpoint. `--message '<json>'` sends a raw Message instead of building one.
 */
const OPTIONS = {
  channels: { type: 'string', value: 'a,b' },
  event: { type: 'string', value: 'NAME' },
  data: { type: 'string', value: "'<json>'" },
  id: { type: 'string', value: 'KEY' },
  message: { type: 'string', value: "'<raw json>'" },
  'topic-arn': { type: 'string', value: 'ARN' },
  endpoint: { type: 'string', value: 'URL' },
  region: { type: 'string', value: 'REGION' },
  'endpoints-file': { type: 'string', value: 'FILE' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies CliOptions;
const USAGE = usageOf('npm run publish --', OPTIONS);

interface PublishFlags {
  channels?: string;
  event?: string;
  data?: string;
  id?: string;
  message?: string;
  'topic-arn'?: string;
  endpoint?: string;
  region?: string;
  'endpoints-file'?: string;
  help?: boolean;
}

runCli('publish', async () => {
  const values = parseCli(OPTIONS, USAGE) as PublishFlags;
  if (values.help) return void process.stdout.write(`${USAGE}\n`);

  // --message is the whole Message: the flags that build one would be silently dropped.
  const building = (['channels', 'event', 'data', 'id'] as const).filter((k) => values[k] !== undefined);
  if (values.message !== undefined && building.length > 0) {
    throw new CliError(
      `--message is the whole message; it cannot be combined with ${building.map((k) => `--${k}`).join(', ')} (put them inside the JSON, or drop --message)`,
    );
  }
  const message = values.message ?? buildMessage(values);
  // Say here what the fanout would reject, instead of publishing something that is dropped.
  const check = parsePublishMessage(message, 'cli');
  if (!check.ok) throw new CliError(`Switchboard would reject this message: ${check.reason}`);
  const explicitArn = values['topic-arn'] ?? process.env.SWITCHBOARD_TOPIC_ARN;
  const explicitEndpoint = values.endpoint ?? process.env.SWITCHBOARD_SNS_ENDPOINT;
  // An explicit topic without an endpoint means AWS itself; otherwise the local emulator.
  const local =
    explicitArn === undefined || explicitEndpoint !== undefined
      ? readEndpoints(endpointsFile(values['endpoints-file']))
      : undefined;
  const topicArn = explicitArn ?? local?.topicArn;
  if (!topicArn)
    throw new CliError(
      'no topic: start the local runtime (`npm start`, which writes .local/endpoints.json) or pass --topic-arn',
    );
  const endpoint = explicitEndpoint ?? (explicitArn === undefined ? local?.snsEndpoint : undefined);
  const region =
    values.region ?? (endpoint ? local?.region : undefined) ?? topicArn.split(':')[3] ?? process.env.AWS_REGION;
  const sns = new SNSClient({
    region,
    ...(endpoint && { endpoint }),
    // The emulator accepts any credentials; use the real chain only when talking to AWS.
    ...(endpoint &&
      !process.env.AWS_ACCESS_KEY_ID && { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  });
  try {
    const r = await sns.send(new PublishCommand({ TopicArn: topicArn, Message: message }));
    process.stdout.write(`published ${r.MessageId} to ${topicArn}\n`);
  } catch (err) {
    throw explainNetworkError(err, 'the SNS endpoint', endpoint);
  } finally {
    sns.destroy();
  }
});

function buildMessage(v: { channels?: string; event?: string; data?: string; id?: string }): string {
  const channels = splitList(v.channels);
  if (channels.length === 0) throw new CliError(`--channels is required (comma-separated channel names)\n${USAGE}`);
  if (!v.event) throw new CliError(`--event is required\n${USAGE}`);
  let data: unknown = null;
  if (v.data !== undefined) {
    try {
      data = JSON.parse(v.data);
    } catch {
      throw new CliError(`--data must be JSON, e.g. --data '{"booking_id":9}'; got ${v.data}`);
    }
  }
  return JSON.stringify({ channels, event: v.event, data, ...(v.id !== undefined && { id: v.id }) });
}
