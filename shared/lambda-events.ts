import * as z from 'zod/mini';

/**
 * Schemas for the Lambda events Switchboard receives, parsed at the edge before use.
 * Only the fields we read are required; API Gateway and SNS send more.
 */
export const webSocketEventSchema = z.object({
  requestContext: z.object({
    routeKey: z.string(),
    connectionId: z.string().check(z.minLength(1)),
    eventType: z.optional(z.enum(['CONNECT', 'MESSAGE', 'DISCONNECT'])),
    domainName: z.optional(z.string()),
    stage: z.optional(z.string()),
    connectedAt: z.optional(z.number()),
    disconnectStatusCode: z.nullish(z.number()),
    disconnectReason: z.nullish(z.string()),
    requestId: z.optional(z.string()),
  }),
  queryStringParameters: z.nullish(z.record(z.string(), z.string())),
  body: z.nullish(z.string()),
  isBase64Encoded: z.optional(z.boolean()),
});
export type WebSocketEvent = z.infer<typeof webSocketEventSchema>;

/** The ids every log line of a WebSocket invocation carries. */
export function webSocketKeys(event: WebSocketEvent): Record<string, unknown> {
  const { connectionId, routeKey, requestId } = event.requestContext;
  return { connectionId, route: routeKey, ...(requestId !== undefined && { apiRequestId: requestId }) };
}

/** HTTP API payload format 2.0: `routeKey` is the HTTP_ROUTES key API Gateway matched. */
export const httpEventSchema = z.object({
  version: z.optional(z.literal('2.0')),
  routeKey: z.string(),
  rawPath: z.string(),
  rawQueryString: z.optional(z.string()),
  headers: z.optional(z.record(z.string(), z.string())),
  queryStringParameters: z.nullish(z.record(z.string(), z.string())),
  pathParameters: z.nullish(z.record(z.string(), z.string())),
  requestContext: z.object({
    http: z.object({ method: z.string(), path: z.optional(z.string()) }),
    requestId: z.optional(z.string()),
  }),
});
export type HttpEvent = z.infer<typeof httpEventSchema>;

export interface LambdaResult {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
}

/** Decodes a WebSocket message body (API Gateway base64-encodes binary frames). */
export function messageBody(event: WebSocketEvent): string | undefined {
  if (event.body === undefined || event.body === null) return undefined;
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

/** An SQS event from a Lambda event source mapping (only the fields Switchboard reads). */
export const sqsEventSchema = z.object({
  Records: z.array(
    z.object({
      messageId: z.string(),
      receiptHandle: z.string(),
      body: z.string(),
      attributes: z.optional(
        z.object({
          ApproximateReceiveCount: z.optional(z.string()),
          MessageGroupId: z.optional(z.string()),
        }),
      ),
      eventSourceARN: z.optional(z.string()),
    }),
  ),
});
export type SqsEvent = z.infer<typeof sqsEventSchema>;
export type SqsRecord = SqsEvent['Records'][number];

/** The SNS envelope SQS receives from a topic subscription without raw message delivery. */
export const snsEnvelopeSchema = z.object({
  Type: z.literal('Notification'),
  MessageId: z.string(),
  Message: z.string(),
  TopicArn: z.optional(z.string()),
});

export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** What a handler reads from its Lambda context (a part of aws-lambda's `Context`; tests hand in their own). */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
  functionName?: string;
  awsRequestId?: string;
}
