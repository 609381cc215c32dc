import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDynamoDbLocal } from '../../local/dynamodb-local';
import { testConfig } from '../../shared/config';
import { publish } from '../../shared/fanout-engine';
import { runtimeFrom } from '../../shared/runtime';
import { keys } from '../../shared/store/keys';
import { createTable } from '../../shared/store/create-table';
import { RecordingTelemetry } from '../../shared/telemetry';
import { round, type ScenarioResult } from '../lib';

/**
 * The fan-out engine alone: one event to N connections on one channel, posted to a management API
 * that answers after a fixed latency. Compares completion time with the floor N × latency ÷ concurrency.
 */
export interface FanoutEngineParams {
  sizes: number[];
  concurrencies: number[];
  latencyMs: number;
  repeats: number;
}

export const FANOUT_ENGINE_DEFAULTS: FanoutEngineParams = { sizes: [100, 1000, 5000], concurrencies: [16, 32, 64, 128], latencyMs: 20, repeats: 2 };

export async function runFanoutEngine(p: FanoutEngineParams = FANOUT_ENGINE_DEFAULTS, dynamoEndpoint?: string): Promise<ScenarioResult> {
  const ddb = dynamoEndpoint ? undefined : await startDynamoDbLocal();
  const endpoint = dynamoEndpoint ?? ddb!.endpoint;
  let posts = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      posts++;
      setTimeout(() => res.writeHead(200).end(), p.latencyMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const mgmt = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dynamo = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
  const doc = DynamoDBDocumentClient.from(dynamo);
  const tableName = `bench-fanout-${Date.now()}`;
  await createTable(dynamo, tableName);
  const rows: Record<string, unknown>[] = [];
  try {
    for (const n of p.sizes) {
      const channel = `bench_${n}`;
      const items = Array.from({ length: n }, (_, i) => ({ ...keys.channelSubscriber(channel, `c${n}-${i}`), connectionId: `c${n}-${i}` }));
      for (let i = 0; i < items.length; i += 25) {
        await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
      }
      for (const concurrency of p.concurrencies) {
        const telemetry = new RecordingTelemetry();
        const rt = runtimeFrom({ config: testConfig({ tableName, postConcurrency: concurrency, managementEndpoint: mgmt }), dynamo, log: telemetry, metrics: telemetry });
        const times: number[] = [];
        for (let r = 0; r < p.repeats; r++) {
          const before = posts;
          const start = performance.now();
          const report = await publish({ db: rt.db, config: rt.config, poster: rt.poster(mgmt), log: rt.log }, { channels: [channel], event: 'bench', data: { r }, id: `b-${n}-${concurrency}-${r}-${Date.now()}` });
          times.push(performance.now() - start);
          if (report.duplicate || report.delivery.delivered !== n || posts - before !== n) throw new Error(`fanout delivered ${report.duplicate ? 0 : report.delivery.delivered} of ${n}`);
        }
        const best = Math.min(...times);
        const floor = (n * p.latencyMs) / concurrency;
        rows.push({ subscribers: n, concurrency, completionMs: round(best), allRunsMs: times.map((t) => round(t)), floorMs: round(floor), overFloor: round(best / floor), postsPerSecond: Math.round((n / best) * 1000) });
      }
    }
  } finally {
    server.closeAllConnections();
    server.close();
    dynamo.destroy();
    await ddb?.stop();
  }
  const worst = rows.reduce((a, r) => Math.max(a, r.overFloor as number), 0);
  return {
    scenario: 'fanout-engine',
    summary: `fanout-engine: ${rows.map((r) => `${r.subscribers}@c${r.concurrency}=${r.completionMs}ms`).join(' ')}; worst ${worst}× the N×latency÷concurrency floor`,
    parameters: { ...p },
    figures: rows,
  };
}
