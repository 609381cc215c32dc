import { startDynamoDbLocal } from '../../local/dynamodb-local';
import { startSqsEmulator } from './sqs-emulator';

/** One DynamoDB Local and one SQS emulator per jest run, on free ports; each test file makes its own table and queues. */
export default async function globalSetup(): Promise<void> {
  const [ddb, sqs] = await Promise.all([startDynamoDbLocal(), startSqsEmulator()]);
  process.env.SWITCHBOARD_TEST_DYNAMODB_ENDPOINT = ddb.endpoint;
  process.env.SWITCHBOARD_TEST_SQS_ENDPOINT = sqs.endpoint;
  (globalThis as { __switchboardParts?: { stop(): Promise<void> }[] }).__switchboardParts = [ddb, sqs];
}
