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

/** How long a closing server lets requests already under way finish before it cuts them. */
const CLOSE_GRACE_MS = 10_000;

/**
 * Closes the server: no new connections, idle keep-alive sockets ended, and requests already
 * under way answered with `Connection: close` — a client that keeps a connection busy would
 * otherwise keep the server (and a stopping stack) open as long as it likes. Requests still
 * running after the grace period are cut; their clients never got an answer.
 */
export const close = (server: Server, graceMs = CLOSE_GRACE_MS): Promise<void> =>
  new Promise((resolve, reject) => {
    if (!server.listening) return resolve();
    server.prependListener('request', (_req, res) => {
      res.shouldKeepAlive = false;
    });
    // Connections whose request was running when close began turn idle later.
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close((error) => {
      clearInterval(sweep);
      clearTimeout(cut);
      if (error) reject(error);
      else resolve();
    });
    server.closeIdleConnections();
  });

export const urlOf = (address: AddressInfo): string => {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
};
