/**
 * Logging and metrics seen by shared/: small interfaces, so tests can record what was said.
 * Production uses Powertools for AWS Lambda (structured JSON logs, CloudWatch EMF metrics).
 */
export interface Log {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
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
}

/** In-memory log and metrics, for tests and tools. */
export class RecordingTelemetry implements Log, MetricsSink {
  readonly lines: LogLine[] = [];
  readonly counters: Record<string, number> = {};
  debug(message: string, extra?: Record<string, unknown>): void {
    this.lines.push({ level: 'debug', message, extra });
  }
  info(message: string, extra?: Record<string, unknown>): void {
    this.lines.push({ level: 'info', message, extra });
  }
  warn(message: string, extra?: Record<string, unknown>): void {
    this.lines.push({ level: 'warn', message, extra });
  }
  error(message: string, extra?: Record<string, unknown>): void {
    this.lines.push({ level: 'error', message, extra });
  }
  count(name: string, value = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + value;
  }
  flush(): void {}
}

/** Error details safe for logs: name and message, never a token (tokens are never put in errors). */
export function errorDetails(err: unknown): Record<string, unknown> {
  if (err instanceof Error) return { errorName: err.name, errorMessage: err.message, ...(err.cause instanceof Error && { cause: err.cause.message }) };
  return { errorMessage: String(err) };
}
