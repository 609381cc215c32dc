import { z } from 'zod';

/**
 * Schemas for the Lambda events Switchboard receives, parsed at the edge before use.
 * Only the fields we read are required; API Gateway and SNS send more.
 */
export const webSocketEventSchema = z.object({
  requestContext: z.object({
    routeKey: z.string(),
    connectionId: z.string().min(1),
    eventType: z.enum(['CONNECT', 'MESSAGE', 'DISCONNECT']).optional(),
    domainName: z.string().optional(),
    stage: z.string().optional(),
    connectedAt: z.number().optional(),
    disconnectStatusCode: z.number().nullish(),
    disconnectReason: z.string().nullish(),
  }),
  queryStringParameters: z.record(z.string(), z.string()).nullish(),
  body: z.string().nullish(),
  isBase64Encoded: z.boolean().optional(),
});
export type WebSocketEvent = z.infer<typeof webSocketEventSchema>;

export const snsEventSchema = z.object({
  Records: z.array(
    z.object({
      EventSource: z.string().optional(),
      Sns: z.object({
        MessageId: z.string(),
        Message: z.string(),
        TopicArn: z.string().optional(),
        Timestamp: z.string().optional(),
      }),
    }),
  ),
});
export type SnsEvent = z.infer<typeof snsEventSchema>;

export const httpEventSchema = z.object({
  version: z.literal('2.0').optional(),
  rawPath: z.string(),
  rawQueryString: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  queryStringParameters: z.record(z.string(), z.string()).nullish(),
  requestContext: z.object({ http: z.object({ method: z.string(), path: z.string().optional() }) }),
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
