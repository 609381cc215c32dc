/**
 * Extra middleware for every AWS call the handlers make: the SDK clients they create (DynamoDB, SQS)
 * and the lean poster's `@connections` requests.
 * Nothing registers any on Lambda. The local runtime registers one that ties each call to the
 * Lambda invocation that makes it (local/lambda-invoker.ts): after an invocation timed out or
 * crashed, its calls fail, as they would in a frozen Lambda sandbox, and injected faults
 * (`fanout_crash`, `fanout_timeout`) surface at a random call.
 */
export type ClientMiddleware = <I, O>(next: (args: I) => Promise<O>) => (args: I) => Promise<O>;

const registered: ClientMiddleware[] = [];

export function registerClientMiddleware(mw: ClientMiddleware): void {
  if (!registered.includes(mw)) registered.push(mw);
}

interface StackOwner {
  middlewareStack: { add(mw: unknown, opts: { step: 'initialize'; name: string; override?: boolean }): void };
}

/** Runs the middleware registered at call time (so registering later still reaches every client). */
const dispatch: ClientMiddleware = (next) => (args) => registered.reduceRight((n, mw) => mw(n), next)(args);

/** The same middleware around an AWS call made without an SDK client (the lean poster's request). */
export function throughClientMiddleware<I, O>(call: (args: I) => Promise<O>): (args: I) => Promise<O> {
  return dispatch(call);
}

/** Gives a client the registered middleware (idempotent per client); returns the client. */
export function withClientMiddleware<C extends StackOwner>(client: C): C {
  client.middlewareStack.add(dispatch, { step: 'initialize', name: 'switchboardExtra', override: true });
  return client;
}
