import { performClientAction, type ActionResult } from '../shared/client-actions';
import { dropConnections, presenceStep } from '../shared/connections-lifecycle';
import { errorFrame } from '../shared/errors';
import { parseClientFrame } from '../shared/frames';
import { messageBody, webSocketEventSchema, type LambdaResult } from '../shared/lambda-events';
import { classifyPostError, managementEndpointFor } from '../shared/management-api';
import { defaultRuntime, type Runtime } from '../shared/runtime';
import { errorDetails } from '../shared/telemetry';

/**
 * `subscribe`, `unsubscribe`, `ping`, `presence` and `$default`: parse the frame, act, and post the
 * reply frames back to the caller through the management API, in order; then the presence work the
 * action left (protocol §8). Errors become error frames; the connection stays open.
 */
export function createMessageHandler(runtime: () => Promise<Runtime>) {
  return async (event: unknown): Promise<LambdaResult> => {
    const rt = await runtime();
    const ev = webSocketEventSchema.parse(event);
    const { connectionId, domainName, stage } = ev.requestContext;
    const parsed = parseClientFrame(messageBody(ev), rt.config.maxFrameBytes);
    let result: ActionResult;
    if (!parsed.ok) {
      result = { frames: [parsed.error] };
    } else {
      try {
        result = await performClientAction(rt, connectionId, parsed.frame);
      } catch (err) {
        rt.log.error('client action failed', { connectionId, action: parsed.frame.action, ...errorDetails(err) });
        result = { frames: [errorFrame('internal', 'the server could not complete this request; try again', parsed.frame.id)] };
      }
    }
    const poster = rt.poster(managementEndpointFor(rt.config.managementEndpoint, domainName, stage));
    for (const frame of result.frames) {
      try {
        await poster.post(connectionId, JSON.stringify(frame));
      } catch (err) {
        if (classifyPostError(err) === 'gone') break; // the client left; nothing to answer
        rt.log.error('reply post failed', { connectionId, ...errorDetails(err) });
        break;
      }
    }
    // Presence after the reply: the membership write of a subscribe, a ping's sweep, then the joins
    // and leaves to the channel's subscribers (connections that answer 410 to them are removed).
    if (result.after && result.presence && parsed.ok) {
      const gone = await presenceStep(rt, () => poster, result.presence, parsed.frame.action, result.after);
      if (gone.length > 0) await dropConnections(rt, () => poster, gone, 'gone', 1);
    }
    return { statusCode: 200 };
  };
}

export const handler = createMessageHandler(defaultRuntime);
