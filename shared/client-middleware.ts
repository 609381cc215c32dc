/**
 * Extra middleware for every AWS SDK client the handlers create (DynamoDB, SQS, management API).
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

/** Applies the registered middleware to a client (idempotent per client); returns the client. */
export function withClientMiddleware<C extends StackOwner>(client: C): C {
  registered.forEach((mw, i) => {
    // The SDK's middleware type is generic over every command's input/output; ours wraps any of them.
    client.middlewareStack.add(mw, { step: 'initialize', name: `switchboardExtra${i}`, override: true });
  });
  return client;
}
