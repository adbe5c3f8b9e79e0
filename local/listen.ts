/**
 * Listening and closing node:http servers with errors a person can act on: a busy port names the
 * service and the environment variable that moves it.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
}

export interface ListenTarget {
  service: string;
  port: number;
  host?: string;
  /** Environment variable that overrides this port, named in the error. */
  envVar?: string;
}

export const listen = (server: Server, target: ListenTarget): Promise<AddressInfo> =>
  new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE') {
        const hint = target.envVar ? ` (set ${target.envVar} to use another port)` : '';
        reject(new PortInUseError(`${target.service}: port ${target.port} is already in use${hint}`, { cause: error }));
      } else {
        reject(error);
      }
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(target.port, target.host ?? '127.0.0.1');
  });

/** Closes the server, ending idle keep-alive sockets so shutdown does not wait for clients. */
export const close = (server: Server): Promise<void> =>
  new Promise((resolve, reject) => {
    if (!server.listening) return resolve();
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeIdleConnections?.();
  });

export const urlOf = (address: AddressInfo): string => {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
};
