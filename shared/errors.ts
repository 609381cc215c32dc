import { HTTP_ERROR_STATUS, type ErrorFrame, type HttpErrorBody, type HttpErrorCode, type WsErrorCode } from './wire';

/**
 * Every error the contract names, produced in one place.
 *
 * WebSocket errors are frames `{"type":"error","code","message","id"?}` after which the connection
 * stays open; HTTP errors are `{"error":{"code","message"}}` bodies. Messages are for humans and never
 * carry internals (stacks, table names, tokens).
 */
export { WS_ERROR_CODES, type ErrorFrame, type HttpErrorCode, type WsErrorCode } from './wire';

export function errorFrame(code: WsErrorCode, message: string, id?: string): ErrorFrame {
  return id === undefined ? { type: 'error', code, message } : { type: 'error', code, message, id };
}

/** A failure that maps to a WebSocket error frame (thrown inside shared/, caught by the handler). */
export class ClientError extends Error {
  override name = 'ClientError';
  constructor(
    readonly code: WsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class HttpError extends Error {
  override name = 'HttpError';
  readonly status: number;
  constructor(
    readonly code: HttpErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = HTTP_ERROR_STATUS[code];
  }

  body(): HttpErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

/** The token could not be accepted (protocol §1): 401 on the handshake and on HTTP. */
export class TokenError extends Error {
  override name = 'TokenError';
}
