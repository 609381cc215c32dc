// The local API Gateway WebSocket API (local/ws-gateway.ts) with its functions ($connect, $disconnect,
// message routes) in a worker thread of its own, started by local/gateway-thread.ts: sockets,
// `@connections` requests and those handlers run on another core than the pipeline. Messages to and
// from the host are described there.
import { parentPort, workerData } from 'node:worker_threads';
import { handler as connectHandler } from '../functions/connect';
import { handler as disconnectHandler } from '../functions/disconnect';
import { handler as messageHandler } from '../functions/message';
import { parseFaults } from './faults';
import type { GatewayThreadData, HostMessage, ThreadMessage } from './gateway-thread';
import { startWsGateway } from './ws-gateway';
import { handlerGate } from './handler-gate';

const host = parentPort;
if (!host) throw new Error('local/gateway-thread-main.ts runs as a worker thread (local/gateway-thread.ts starts it)');
const data = workerData as GatewayThreadData;
const send = (m: ThreadMessage) => host.postMessage(m);

// As in one process before: handlers wait at this gate until the host has set their environment.
const { gated, open: openGate } = handlerGate();

startWsGateway({
  port: data.port,
  host: data.host,
  handlers: { connect: gated(connectHandler), disconnect: gated(disconnectHandler), message: gated(messageHandler) },
  idleTimeoutMs: data.idleTimeoutMs,
  maxAgeMs: data.maxAgeMs,
  faults: parseFaults(data.faultSpec, String(data.faultSeed)),
  onEvent: (event) => send({ type: 'event', event }),
  log: (level, line) => send({ type: 'log', level, line }),
}).then(
  (gateway) => {
    host.on('message', (m: HostMessage) => {
      if (m.type === 'open') openGate();
      else if (m.type === 'vanish') send({ type: 'reply', id: m.id, value: gateway.vanish(m.connectionId) });
      else if (m.type === 'settle') void gateway.settled().then(() => send({ type: 'reply', id: m.id, value: true }));
      else if (m.type === 'count') send({ type: 'reply', id: m.id, value: gateway.connectionCount() });
      else if (m.type === 'stop') void gateway.stop().then(() => send({ type: 'reply', id: m.id, value: true }));
    });
    send({
      type: 'listening',
      port: gateway.port,
      url: gateway.url,
      managementEndpoint: gateway.managementEndpoint,
      routes: { ...gateway.routes },
    });
  },
  (err: unknown) => {
    const e = err as Error & { port?: number; envName?: string };
    send({
      type: 'failed',
      name: e?.name ?? 'Error',
      message: e?.message ?? String(err),
      port: e?.port,
      envName: e?.envName,
    });
  },
);
