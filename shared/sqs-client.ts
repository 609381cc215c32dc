import { SQSClient } from '@aws-sdk/client-sqs';
import { withClientMiddleware } from './client-middleware';
import { envCredentials } from './env-credentials';
import type { Runtime } from './runtime';

/**
 * The runtime's SQS client for the pipeline's queues, created on first use (shared/runtime.ts,
 * OnDemand): only fanout, sequencer and deliver reach this, so only their bundles hold the SQS
 * client. Requests go to the configured endpoint (AWS's, or the local emulator's), not the queue
 * URL's host; credentials from the environment, as Lambda provides them.
 */
export function sqsFor(rt: Pick<Runtime, 'onDemand'>): SQSClient {
  return (rt.onDemand.sqs ??= withClientMiddleware(
    new SQSClient({ useQueueUrlAsEndpoint: false, credentials: envCredentials() }),
  ));
}
