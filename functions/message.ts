import { performClientAction } from '../shared/client-actions';
import { dropConnections, presenceStep } from '../shared/connections-lifecycle';
import { errorFrame } from '../shared/errors';
import { parseClientFrame, type ServerFrame } from '../shared/frames';
import { webSocketHandler } from '../shared/handler';
import { messageBody, type LambdaResult, type WebSocketEvent } from '../shared/lambda-events';
import { posterFor } from '../shared/lean-poster';
import { classifyPostError, managementEndpointFor, type Poster } from '../shared/management-api';
import { defaultRuntime, type Runtime } from '../shared/runtime';
import { errorDetails } from '../shared/telemetry';

/**
 * `subscribe`, `unsubscribe`, `ping`, `presence` and `$default`: parse the frame, act, and post the
 * reply frames back to the caller through the management API, in order; then the presence work the
 * action left (protocol §8). Errors become error frames; the connection stays open.
 */
export function createMessageHandler(runtime: () => Promise<Runtime>) {
  return webSocketHandler(runtime, 'message', {
    async handle(rt, event) {
      const { connectionId } = event.requestContext;
      const poster = eventPoster(rt, event);
      const parsed = parseClientFrame(messageBody(event), rt.config.maxFrameBytes);
      if (!parsed.ok) return reply(rt, poster, connectionId, [parsed.error]);
      const result = await performClientAction(rt, connectionId, parsed.frame);
      await reply(rt, poster, connectionId, result.frames);
      // Presence after the reply: the membership write of a subscribe, a ping's sweep, then the joins
      // and leaves to the channel's subscribers (connections that answer 410 to them are removed).
      if (result.after && result.presence) {
        const gone = await presenceStep(rt, () => poster, result.presence, parsed.frame.action, result.after);
        if (gone.length > 0) await dropConnections(rt, () => poster, gone, 'gone', 1);
      }
      return { statusCode: 200 };
    },
    // The contract's answer to anything unexpected: an `internal` error frame (with the frame's id),
    // never the error's text.
    async failed(rt, event) {
      const parsed = parseClientFrame(messageBody(event), rt.config.maxFrameBytes);
      const frame = errorFrame(
        'internal',
        'the server could not complete this request; try again',
        parsed.ok ? parsed.frame.id : undefined,
      );
      return reply(rt, eventPoster(rt, event), event.requestContext.connectionId, [frame]);
    },
  });
}

function eventPoster(rt: Runtime, event: WebSocketEvent): Poster {
  return posterFor(
    rt,
    managementEndpointFor(rt.config.managementEndpoint, event.requestContext.domainName, event.requestContext.stage),
  );
}

/** Posts the reply frames in order; stops at the first that fails (a client that left gets nothing more). */
async function reply(
  rt: Runtime,
  poster: Poster,
  connectionId: string,
  frames: readonly ServerFrame[],
): Promise<LambdaResult> {
  for (const frame of frames) {
    try {
      await poster.post(connectionId, JSON.stringify(frame));
    } catch (err) {
      if (classifyPostError(err) !== 'gone') rt.log.error('reply post failed', errorDetails(err));
      break;
    }
  }
  return { statusCode: 200 };
}

export const handler = createMessageHandler(defaultRuntime);
