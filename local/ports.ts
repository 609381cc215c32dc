import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { portFree } from './dynamodb-local';

/** A port the local runtime needs is taken: reported as one line naming the variable to change. */
export class PortInUseError extends Error {
  override name = 'PortInUseError';
  constructor(
    readonly port: number,
    readonly envName: string,
  ) {
    super(
      `port ${port} (${envName}) is already in use on 127.0.0.1: stop what uses it or set ${envName} to another port`,
    );
  }
}

/** Listens on host:port (0 = any free port) and resolves with the bound port. */
export function listen(server: Server, port: number, host: string, envName: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(err.code === 'EADDRINUSE' || err.code === 'EACCES' ? new PortInUseError(port, envName) : err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host, exclusive: true });
  });
}

/** Fails with PortInUseError for the first fixed port that is taken (0 means "any", never taken). */
export async function checkPortsFree(ports: { port: number; envName: string }[]): Promise<void> {
  for (const { port, envName } of ports) {
    if (port !== 0 && !(await portFree(port))) throw new PortInUseError(port, envName);
  }
}
