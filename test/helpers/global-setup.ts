import { startDynamoDbLocal } from '../../local/dynamodb-local';

/** One DynamoDB Local per jest run, on a free port; each test file creates its own table. */
export default async function globalSetup(): Promise<void> {
  const ddb = await startDynamoDbLocal();
  process.env.SWITCHBOARD_TEST_DYNAMODB_ENDPOINT = ddb.endpoint;
  (globalThis as { __switchboardDdb?: { stop(): Promise<void> } }).__switchboardDdb = ddb;
}
