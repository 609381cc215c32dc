/**
 * AWS list prices used to turn counted operations into dollars. One dated table: update the date and
 * figures together. us-east-1, on-demand / pay-per-request, no free tier.
 */
export const PRICES = {
  asOf: '2026-11-01',
  region: 'us-east-1',
  /** API Gateway WebSocket: per million messages (sent or received, metered in 32 KB units). */
  apiGatewayWsPerMillionMessages: 1.0,
  /** API Gateway WebSocket: per million connection-minutes. */
  apiGatewayWsPerMillionConnectionMinutes: 0.25,
  /** DynamoDB on-demand: per million write request units / read request units. */
  dynamoDbPerMillionWriteUnits: 0.625,
  dynamoDbPerMillionReadUnits: 0.125,
  /** SNS standard topic: per million publishes (64 KB units); SNS→Lambda deliveries are free. */
  snsPerMillionPublishes: 0.5,
  /** SQS: per million requests (64 KB units), standard and FIFO queues; SNS→SQS deliveries carry no SNS charge. */
  sqsStandardPerMillionRequests: 0.4,
  sqsFifoPerMillionRequests: 0.5,
  /** Lambda arm64: per million requests and per GB-second. */
  lambdaPerMillionRequests: 0.2,
  lambdaArmPerGbSecond: 0.0000133334,
  /** For comparison: AppSync Events, per million operations (publishes and deliveries each count) and per million connection-minutes. */
  appSyncEventsPerMillionOperations: 1.0,
  appSyncEventsPerMillionConnectionMinutes: 0.08,
} as const;
