import type { LambdaHandler } from './ws-gateway';

/**
 * Holds handler calls until `open()`: the handlers read their environment (endpoints, known only once
 * every local part listens) when first called, so nothing may reach them before it is set — nothing
 * but an early client can anyway.
 */
export function handlerGate(): { gated: (h: LambdaHandler) => LambdaHandler; open: () => void } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const gated =
    (h: LambdaHandler): LambdaHandler =>
    async (event, context) => {
      await gate;
      return h(event, context);
    };
  return { gated, open };
}
