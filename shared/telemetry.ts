/**
 * Logging and metrics seen by shared/: small interfaces, so tests can record what was said.
 * Production uses Powertools for AWS Lambda (structured JSON logs, CloudWatch EMF metrics).
 */
export interface Log {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
  /**
   * The log of one invocation: every line carries the Lambda context and `keys` (request id,
   * connection id, route). Powertools: a child logger with `addContext` and `appendKeys`, what its
   * `injectLambdaContext` does, kept per invocation so that invocations running side by side in one
   * process (the local runtime) never mix their keys.
   */
  forInvocation(keys: Record<string, unknown>, context?: LogContext): Log;
}

/** What a log reads from the Lambda context (the local runtime's context has only some fields). */
export interface LogContext {
  functionName?: string;
  awsRequestId?: string;
}

export interface MetricsSink {
  count(name: string, value?: number): void;
  /** Writes what was counted (end of an invocation). */
  flush(): void;
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  extra?: Record<string, unknown>;
  /** The invocation's keys (`forInvocation`), when it was said inside one. */
  keys?: Record<string, unknown>;
}

/** In-memory log and metrics, for tests and tools. */
export class RecordingTelemetry implements Log, MetricsSink {
  readonly lines: LogLine[] = [];
  readonly counters: Record<string, number> = {};
  constructor(
    private readonly keys?: Record<string, unknown>,
    parent?: RecordingTelemetry,
  ) {
    if (parent) {
      this.lines = parent.lines;
      this.counters = parent.counters;
    }
  }
  debug(message: string, extra?: Record<string, unknown>): void {
    this.say('debug', message, extra);
  }
  info(message: string, extra?: Record<string, unknown>): void {
    this.say('info', message, extra);
  }
  warn(message: string, extra?: Record<string, unknown>): void {
    this.say('warn', message, extra);
  }
  error(message: string, extra?: Record<string, unknown>): void {
    this.say('error', message, extra);
  }
  forInvocation(keys: Record<string, unknown>, context?: LogContext): RecordingTelemetry {
    return new RecordingTelemetry(
      { ...this.keys, ...(context?.awsRequestId !== undefined && { requestId: context.awsRequestId }), ...keys },
      this,
    );
  }
  private say(level: LogLine['level'], message: string, extra?: Record<string, unknown>): void {
    this.lines.push({ level, message, extra, ...(this.keys && { keys: this.keys }) });
  }
  count(name: string, value = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + value;
  }
  flush(): void {}
}

/** Error details safe for logs: name and message, never a token (tokens are never put in errors). */
export function errorDetails(err: unknown): Record<string, unknown> {
  if (err instanceof Error)
    return {
      errorName: err.name,
      errorMessage: err.message,
      ...(err.cause instanceof Error && { cause: err.cause.message }),
    };
  return { errorMessage: String(err) };
}
