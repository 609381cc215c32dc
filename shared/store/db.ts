import {
  QueryCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import type { Clock } from '../clock';

/**
 * Counts of what the store asked DynamoDB to do: requests by kind and the capacity units DynamoDB
 * reported. The fan-out logs one of these per message; the benchmark turns them into a bill.
 */
export interface OpCounts {
  getRequests: number;
  putRequests: number;
  updateRequests: number;
  deleteRequests: number;
  queryPages: number;
  batchRequests: number;
  transactRequests: number;
  readUnits: number;
  writeUnits: number;
}

export function newOpCounts(): OpCounts {
  return {
    getRequests: 0,
    putRequests: 0,
    updateRequests: 0,
    deleteRequests: 0,
    queryPages: 0,
    batchRequests: 0,
    transactRequests: 0,
    readUnits: 0,
    writeUnits: 0,
  };
}

/** What every store module shares: the document client, the table, the clock and a counter. */
export class Db {
  constructor(
    readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    readonly clock: Clock,
    readonly counts: OpCounts = newOpCounts(),
  ) {}

  /** Same client and table, counting into a fresh (or given) counter. */
  withCounts(counts: OpCounts = newOpCounts()): Db {
    return new Db(this.doc, this.tableName, this.clock, counts);
  }

  count(
    kind:
      | 'getRequests'
      | 'putRequests'
      | 'updateRequests'
      | 'deleteRequests'
      | 'queryPages'
      | 'batchRequests'
      | 'transactRequests',
    consumed?: ConsumedCapacity | ConsumedCapacity[],
    /** What the request's units are when DynamoDB reports only a total (default: by kind; a BatchGet says 'read'). */
    units: 'read' | 'write' = kind === 'getRequests' || kind === 'queryPages' ? 'read' : 'write',
  ): void {
    this.counts[kind] += 1;
    for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) {
      this.counts.readUnits += c.ReadCapacityUnits ?? 0;
      this.counts.writeUnits += c.WriteCapacityUnits ?? 0;
      if (c.ReadCapacityUnits === undefined && c.WriteCapacityUnits === undefined && c.CapacityUnits !== undefined) {
        if (units === 'read') this.counts.readUnits += c.CapacityUnits;
        else this.counts.writeUnits += c.CapacityUnits;
      }
    }
  }

  /** Runs a Query on this table page by page (following LastEvaluatedKey), counting each page. */
  async *queryPages(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey' | 'ReturnConsumedCapacity'>,
  ): AsyncGenerator<QueryCommandOutput> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          ...input,
          TableName: this.tableName,
          ExclusiveStartKey: startKey,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.count('queryPages', page.ConsumedCapacity);
      yield page;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  nowSeconds(): number {
    return Math.floor(this.clock.now() / 1000);
  }
}

export function isConditionalCheckFailed(err: unknown): boolean {
  return (err as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException';
}

export function cancellationCodes(err: unknown): string[] | undefined {
  if ((err as { name?: string } | undefined)?.name !== 'TransactionCanceledException') return undefined;
  const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.map((r) => r.Code ?? 'None');
}
