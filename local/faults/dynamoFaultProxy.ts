/**
 * A fault-injecting HTTP proxy in front of dynalite. The handlers' DynamoDB client (and the API's)
 * talks to it instead of dynalite, so an injected fault travels the whole real path: the SDK
 * parses the error reply, its retry strategy backs off and retries (throttling with its own
 * backoff, dropped connections as transient), and only what survives the SDK's attempts reaches
 * the product store and the queue's retries. A middleware on the SDK client would skip the parsing
 * and the connection handling; a proxy changes nothing in the code under test.
 */
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { crossSiteRefusal } from '../crossSiteGuard.js';
import { close, listen, urlOf } from '../listen.js';
import { injectFault, dynamoDbFault } from './httpFaults.js';
import type { FaultSwitch } from './FaultSwitch.js';

export interface RunningDynamoFaultProxy {
  url: string;
  stop(): Promise<void>;
}

const forward = (upstream: URL, agent: Agent, req: IncomingMessage, onReply: (reply: IncomingMessage) => void, onError: (error: Error) => void): void => {
  const out = request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
    onReply,
  );
  out.on('error', onError);
  req.pipe(out);
};

export const startDynamoFaultProxy = async (opts: { upstream: string; faults: FaultSwitch; port?: number }): Promise<RunningDynamoFaultProxy> => {
  const upstream = new URL(opts.upstream);
  const agent = new Agent({ keepAlive: true });
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    // Headers travel unchanged, so dynalite's own Host and Origin rules refuse a cross-site
    // request (403); such a request draws no fault, so it cannot shift the seeded sequence.
    const kind = crossSiteRefusal(req) ? undefined : opts.faults.draw('dynamodb');
    const failed = (error: Error): void => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`dynalite unreachable: ${error.message}`);
      } else res.destroy();
    };
    if (kind === undefined || kind === 'lost-reply') {
      forward(upstream, agent, req, (reply) => {
        if (kind === 'lost-reply') {
          // The write is done; the caller never learns it.
          reply.resume();
          reply.on('end', () => opts.faults.drop(req.socket));
          return;
        }
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      }, failed);
      return;
    }
    void injectFault(opts.faults, kind, req, res, dynamoDbFault);
  };
  const server: Server = createServer(handle);
  const address = await listen(server, { service: 'DynamoDB fault proxy', port: opts.port ?? 0 });
  return {
    url: urlOf(address),
    stop: async () => {
      opts.faults.dropHeld();
      server.closeAllConnections();
      await close(server);
      agent.destroy();
    },
  };
};
