import http from 'node:http';
import type { Message } from '@aws-sdk/client-sqs';

/**
 * The event source mappings' own SQS calls (ReceiveMessage, DeleteMessageBatch) on SQS's JSON wire
 * protocol, without the SDK. On AWS these calls are Lambda's, not the function's: they cost the
 * function nothing. Locally they ran through the full SDK client in the same process as the
 * handlers, 1–2 ms of CPU each, a few hundred per second under load. The handlers' own calls
 * (SendMessageBatch, ChangeMessageVisibilityBatch) still go through the SDK, as on Lambda.
 * fauxqs checks no signature (like every local endpoint here), so none is made.
 */
export class SqsWire {
  private readonly url: URL;

  constructor(
    endpoint: string,
    private readonly agent: http.Agent,
  ) {
    this.url = new URL(endpoint);
  }

  async receive(
    input: { QueueUrl: string; MaxNumberOfMessages: number; WaitTimeSeconds: number },
    signal: AbortSignal,
  ): Promise<Message[]> {
    const r = (await this.call(
      'ReceiveMessage',
      { ...input, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] },
      signal,
    )) as { Messages?: Message[] };
    return r.Messages ?? [];
  }

  /** Deletes the messages; throws when SQS refused any of them. */
  async deleteBatch(queueUrl: string, receiptHandles: string[]): Promise<void> {
    const r = (await this.call('DeleteMessageBatch', {
      QueueUrl: queueUrl,
      Entries: receiptHandles.map((ReceiptHandle, i) => ({ Id: String(i), ReceiptHandle })),
    })) as {
      Failed?: { Id: string; Code?: string; Message?: string }[];
    };
    const failed = r.Failed ?? [];
    if (failed.length > 0)
      throw new Error(
        `DeleteMessageBatch failed for ${failed.length} messages: ${failed[0]?.Code ?? ''} ${failed[0]?.Message ?? ''}`,
      );
  }

  private call(action: string, body: object, signal?: AbortSignal): Promise<unknown> {
    const data = Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          method: 'POST',
          hostname: this.url.hostname,
          port: this.url.port,
          path: '/',
          agent: this.agent,
          signal,
          headers: {
            'content-type': 'application/x-amz-json-1.0',
            'x-amz-target': `AmazonSQS.${action}`,
            'content-length': data.length,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              return reject(new Error(`SQS ${action}: HTTP ${res.statusCode}, not JSON: ${text.slice(0, 200)}`));
            }
            if ((res.statusCode ?? 0) >= 300) {
              const e = parsed as { __type?: string; message?: string };
              return reject(
                new Error(`SQS ${action}: HTTP ${res.statusCode} ${e.__type ?? ''} ${e.message ?? ''}`.trim()),
              );
            }
            resolve(parsed);
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }
}
