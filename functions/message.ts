import { performClientAction } from '../shared/client-actions';
import { errorFrame } from '../shared/errors';
import { parseClientFrame, type ServerFrame } from '../shared/frames';
import { messageBody, webSocketEventSchema, type LambdaResult } from '../shared/lambda-events';
import { classifyPostError, managementEndpointFor } from '../shared/management-api';
import { defaultRuntime, type Runtime } from '../shared/runtime';
import { errorDetails } from '../shared/telemetry';

/**
 * `subscribe`, `unsubscribe`, `ping` and `$default`: parse the frame, act, and post the reply frames
 * back to the caller through the management API, in order. Errors become error frames; the
 * connection stays open.
 */
export function createMessageHandler(runtime: () => Promise<Runtime>) {
  return async (event: unknown): Promise<LambdaResult> => {
    const rt = await runtime();
    const ev = webSocketEventSchema.parse(event);
    const { connectionId, domainName, stage } = ev.requestContext;
    const parsed = parseClientFrame(messageBody(ev), rt.config.maxFrameBytes);
    let frames: ServerFrame[];
    if (!parsed.ok) {
      frames = [parsed.error];
    } else {
      try {
        frames = await performClientAction(rt, connectionId, parsed.frame);
      } catch (err) {
        rt.log.error('client action failed', { connectionId, action: parsed.frame.action, ...errorDetails(err) });
        frames = [errorFrame('internal', 'the server could not complete this request; try again', parsed.frame.id)];
      }
    }
    const poster = rt.poster(managementEndpointFor(rt.config.managementEndpoint, domainName, stage));
    for (const frame of frames) {
      try {
        await poster.post(connectionId, JSON.stringify(frame));
      } catch (err) {
        if (classifyPostError(err) === 'gone') break; // the client left; nothing to answer
        rt.log.error('reply post failed', { connectionId, ...errorDetails(err) });
        break;
      }
    }
    return { statusCode: 200 };
  };
}

export const handler = createMessageHandler(defaultRuntime);
