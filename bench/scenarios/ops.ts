import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startDynamoDbLocal } from '../../local/dynamodb-local';
import { testConfig } from '../../test/helpers/config';
import { runtimeFrom } from '../../shared/runtime';
import { ConnectionStore } from '../../shared/store/connections';
import { createTable } from '../../shared/store/create-table';
import type { OpCounts } from '../../shared/store/db';
import { RecordingTelemetry } from '../../shared/telemetry';
import { TestManagementServer } from '../../test/helpers/management-server';
import { round, type ScenarioResult } from '../lib';
import { PRICES } from '../prices';
import { ORDER_MESSAGE_MAX_EVENTS, PIPELINE } from '../../shared/pipeline';
import { runEvent, startSqsHarness } from '../pipeline-harness';

/**
 * DynamoDB requests, capacity units and management-API posts per event, counted by the engine
 * itself, turned into dollars with the dated list prices in bench/prices.ts.
 */
export interface OpsParams {
  broadcastSizes: number[];
  lambdaMemoryMb: number;
  /** Heartbeat interval of the browser client, for the connection-minute cost. */
  pingEverySeconds: number;
  /** Tabs a receptionist keeps open, for the cost of sharing one connection between them (client `share`). */
  tabsPerUser: number;
  /** Hours a user's tabs are open per month: 8 h × 22 working days. */
  userHoursPerMonth: number;
}
export const OPS_DEFAULTS: OpsParams = {
  broadcastSizes: [100, 1000],
  lambdaMemoryMb: 256,
  pingEverySeconds: 300,
  tabsPerUser: 3,
  userHoursPerMonth: 8 * 22,
};

const identity = { sub: 'bench', role: 'admin', exp: 4_000_000_000 };

/**
 * Connection-minutes of one user whose tabs are all open `hours` a month, with a connection per tab and
 * with the tabs sharing one, and what 1,000 such users cost a month at `perMillionUsd` per million
 * connection-minutes (heartbeat included).
 */
export function tabsCost(tabs: number, hours: number, perMillionUsd: number) {
  const row = (connections: number) => {
    const connectionMinutes = connections * hours * 60;
    return {
      connections,
      connectionMinutesPerUserMonth: connectionMinutes,
      usdPer1000UsersMonth: round((connectionMinutes * 1000 * perMillionUsd) / 1e6, 2),
    };
  };
  return { tabs, hoursPerMonth: hours, notShared: row(tabs), shared: row(1) };
}

/**
 * SQS requests per event through the pipeline, with full batches (the busy case): the SNS delivery
 * into the ingest queue, receive + delete per batch at each stage, the forward to the order queue
 * (a batch's events packed into one message) and each lane message's send (10 per request). Lambda
 * invocations: one per batch and stage; a sequencer batch holds 10 packed messages.
 */
function queueCosts(laneMessages: number) {
  const b = (stage: keyof typeof PIPELINE) => PIPELINE[stage].batchSize;
  const sequenced = b('order') * ORDER_MESSAGE_MAX_EVENTS; // events per sequencer batch
  const standard = 1 + 2 / b('ingest');
  const fifo = 1 / b('ingest') + 2 / sequenced + laneMessages * (1 / 10 + 2 / b('delivery'));
  const invocations = 1 / b('ingest') + 1 / sequenced + laneMessages / b('delivery');
  return { standard, fifo, invocations };
}

function dollars(
  ops: OpCounts,
  posts: number,
  deliveries: number,
  lambdaMs: number,
  memoryMb: number,
  laneMessages: number,
) {
  const m = 1e6;
  const q = queueCosts(laneMessages);
  const perEvent = {
    dynamoDb:
      (ops.writeUnits * PRICES.dynamoDbPerMillionWriteUnits + ops.readUnits * PRICES.dynamoDbPerMillionReadUnits) / m,
    apiGatewayPosts: (posts * PRICES.apiGatewayWsPerMillionMessages) / m,
    sns: PRICES.snsPerMillionPublishes / m,
    sqs: (q.standard * PRICES.sqsStandardPerMillionRequests + q.fifo * PRICES.sqsFifoPerMillionRequests) / m,
    lambda:
      (q.invocations * PRICES.lambdaPerMillionRequests) / m +
      (lambdaMs / 1000) * (memoryMb / 1024) * PRICES.lambdaArmPerGbSecond,
  };
  const total = Object.values(perEvent).reduce((a, b) => a + b, 0);
  return { perEventUsd: perEvent, perMillionDeliveriesUsd: round((total / deliveries) * m, 3) };
}

export async function runOps(p: OpsParams = OPS_DEFAULTS, dynamoEndpoint?: string): Promise<ScenarioResult> {
  const ddb = dynamoEndpoint ? undefined : await startDynamoDbLocal();
  const dynamo = new DynamoDBClient({
    endpoint: dynamoEndpoint ?? ddb!.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  const mgmt = await new TestManagementServer().start();
  const sqs = await startSqsHarness();
  const tableName = `bench-ops-${Date.now()}`;
  await createTable(dynamo, tableName);
  const telemetry = new RecordingTelemetry();
  const rt = runtimeFrom({
    config: testConfig({ tableName, managementEndpoint: mgmt.endpoint }),
    dynamo,
    log: telemetry,
    metrics: telemetry,
  });
  const store = new ConnectionStore(rt.db, 3600);
  const shapes: (Record<string, unknown> & { shape: string; perMillionDeliveriesUsd: number })[] = [];
  const measure = async (name: string, channels: string[]) => {
    // The first publish creates the channels; the second is the steady state that is reported.
    for (const warm of [true, false]) {
      const id = `${name}-${warm}-${Date.now()}`;
      const r = await runEvent(rt, sqs, { channels, event: 'bench', data: { booking_id: 9 }, id }, `m-${id}`);
      const ms = r.sequenceMs + r.deliverMs;
      const writes = r.ops.putRequests + r.ops.updateRequests + r.ops.deleteRequests;
      const transactional = r.ops.transactRequests > 0 ? 1 + 2 * channels.length : 0;
      const awsWriteUnits = writes + 2 * transactional;
      if (!warm) {
        shapes.push({
          shape: name,
          deliveries: r.deliveries,
          posts: r.posts,
          laneMessages: r.laneMessages,
          ops: r.ops,
          // Items written per event: the transaction's items (idempotency record, seq per channel, history per channel) and any other write.
          itemWritesPerEvent: writes + transactional,
          // The same under load: the /stats counter is one write per sequencer batch (up to
          // 10 × ORDER_MESSAGE_MAX_EVENTS events), not per event.
          itemWritesPerEventBusy: round(
            transactional + writes / (PIPELINE.order.batchSize * ORDER_MESSAGE_MAX_EVENTS),
            2,
          ),
          // Write units as AWS bills them (DynamoDB Local's own figure for a transaction is far lower):
          // 1 per item of ≤ 1 KB, 2 per item written in a transaction.
          awsWriteUnitsPerEvent: awsWriteUnits,
          sqsRequestsPerEvent: queueCosts(r.laneMessages),
          localMs: round(ms),
          ...dollars(
            { ...r.ops, writeUnits: awsWriteUnits },
            r.posts,
            r.deliveries,
            ms,
            p.lambdaMemoryMb,
            r.laneMessages,
          ),
        });
      }
    }
  };
  try {
    // Booking shape: one event to specialist_X, workpoint_Y, admin with 2 + 9 + 10 subscribers.
    const booking = ['specialist_1', 'workpoint_1', 'admin'];
    const counts = [2, 9, 10];
    let i = 0;
    for (const [k, ch] of booking.entries())
      for (let j = 0; j < (counts[k] ?? 0); j++) await store.create(`book-${i++}`, identity, [ch]);
    await measure('booking (3 channels, 21 subscribers)', booking);
    for (const n of p.broadcastSizes) {
      const items = Array.from({ length: n }, (_, j) => store.create(`bc${n}-${j}`, identity, [`broadcast_${n}`]));
      for (let j = 0; j < items.length; j += 50) await Promise.all(items.slice(j, j + 50));
      await measure(`1 channel × ${n} subscribers`, [`broadcast_${n}`]);
    }
  } finally {
    await sqs.stop();
    await mgmt.stop();
    dynamo.destroy();
    await ddb?.stop();
  }
  const pingMsgsPerMinute = (2 * 60) / p.pingEverySeconds; // ping in + pong out
  const perMillionConnectionMinutes = round(
    PRICES.apiGatewayWsPerMillionConnectionMinutes +
      pingMsgsPerMinute * PRICES.apiGatewayWsPerMillionMessages +
      (pingMsgsPerMinute / 2) * PRICES.lambdaPerMillionRequests,
    3,
  );
  const booking = shapes[0] as { perMillionDeliveriesUsd: number };
  const tabs = tabsCost(p.tabsPerUser, p.userHoursPerMonth, perMillionConnectionMinutes);
  return {
    scenario: 'ops',
    summary:
      `ops: booking event $${booking.perMillionDeliveriesUsd}/M deliveries; ${shapes
        .slice(1)
        .map((s) => `${s.shape}: $${s.perMillionDeliveriesUsd}/M`)
        .join(
          '; ',
        )}; $${perMillionConnectionMinutes}/M connection-minutes (API Gateway alone: $${PRICES.apiGatewayWsPerMillionMessages}/M messages; AppSync Events: $${PRICES.appSyncEventsPerMillionOperations}/M operations); ` +
      `${tabs.tabs} tabs per user, ${tabs.hoursPerMonth} h/month: ${tabs.notShared.connectionMinutesPerUserMonth} connection-minutes per user, $${tabs.notShared.usdPer1000UsersMonth}/1k users/month with a connection per tab, ${tabs.shared.connectionMinutesPerUserMonth} and $${tabs.shared.usdPer1000UsersMonth} shared`,
    parameters: { ...p, prices: PRICES },
    figures: { shapes, perMillionConnectionMinutesUsd: perMillionConnectionMinutes, tabsPerUser: tabs },
  };
}
