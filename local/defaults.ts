/**
 * Names and defaults of local mode, in one place: the runtime, the CLI tools and the e2e tests
 * read them from here.
 */
export const LOCAL_HOST = '127.0.0.1';
export const DEFAULT_REGION = 'us-east-1';
export const DEFAULT_TABLE_NAME = 'switchboard-local';
export const TOPIC_NAME = 'switchboard-local';
export const FANOUT_QUEUE_NAME = 'switchboard-local-fanout';
export const DEAD_LETTER_QUEUE_NAME = 'switchboard-local-fanout-dlq';
/** The stage name in API Gateway events (the local URLs carry no stage path). */
export const WS_STAGE = 'local';
/** Where `npm start` writes the endpoints (protocol §7), relative to the repository root. */
export const DEFAULT_ENDPOINTS_FILE = '.local/endpoints.json';

/** Environment variable → default port (protocol §7). 0 means "any free port". */
export const PORT_VARS = {
  http: { env: 'HTTP_PORT', default: 3000 },
  ws: { env: 'WS_PORT', default: 3001 },
  sns: { env: 'SNS_PORT', default: 4566 },
  dynamodb: { env: 'DYNAMODB_PORT', default: 8000 },
} as const;
export type PortName = keyof typeof PORT_VARS;

/** API Gateway's limits that the local gateway reproduces. */
export const API_GATEWAY_LIMITS = {
  /** A client frame over 32 KB closes the connection with 1009. */
  maxClientFrameBytes: 32 * 1024,
  /** A management-API post may carry up to 128 KB; the client gets it in 32 KB fragments. */
  maxPostBytes: 128 * 1024,
  outgoingFragmentBytes: 32 * 1024,
  idleTimeoutMs: 10 * 60 * 1000,
  maxConnectionAgeMs: 2 * 60 * 60 * 1000,
} as const;

/** SNS → fanout: Lambda's asynchronous invocation gives up after 3 attempts; locally the waits are short. */
export const FANOUT_MAX_ATTEMPTS = 3;
export const FANOUT_RETRY_DELAY_MS = 1000;
