/**
 * Every error the contract names, produced in one place.
 *
 * WebSocket errors are frames `{"type":"error","code","message","id"?}` after which the connection
 * stays open; HTTP errors are `{"error":{"code","message"}}` bodies. Messages are for humans and never
 * carry internals (stacks, table names, tokens).
 */
export const WS_ERROR_CODES = ['bad_request', 'unknown_action', 'forbidden', 'too_large', 'limit', 'internal'] as const;
export type WsErrorCode = (typeof WS_ERROR_CODES)[number];

export interface ErrorFrame {
  type: 'error';
  code: WsErrorCode;
  message: string;
  id?: string;
}

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

export type HttpErrorCode = 'bad_request' | 'unauthorized' | 'forbidden' | 'not_found' | 'rate_limited' | 'internal';

const HTTP_STATUS: Record<HttpErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  rate_limited: 429,
  internal: 500,
};

export class HttpError extends Error {
  override name = 'HttpError';
  readonly status: number;
  constructor(
    readonly code: HttpErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = HTTP_STATUS[code];
  }

  body(): { error: { code: HttpErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** The token could not be accepted (protocol §1): 401 on the handshake and on HTTP. */
export class TokenError extends Error {
  override name = 'TokenError';
}
