/**
 * Local DynamoDB: dynalite on LevelDB under $WEFT_HOME/dynamodb, with the products table created
 * from the same definition the CDK stack mirrors.
 */
import { mkdirSync } from 'node:fs';
import dynalite from 'dynalite';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { crossSiteRefusal } from './crossSiteGuard.js';
import { close, listen, urlOf } from './listen.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './handlerEnv.js';

export interface RunningDynamo {
  url: string;
  stop(): Promise<void>;
}

/**
 * dynalite answers every CORS preflight with `Access-Control-Allow-Origin: *`, so without this any
 * web page could read and write the local table; the same Host and Origin rules as the other
 * local servers apply, in DynamoDB's error shape.
 */
const refuseCrossSite = (server: Server): void => {
  const handlers = server.listeners('request') as ((...args: unknown[]) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const refusal = crossSiteRefusal(req);
    if (!refusal) return handlers.forEach((handler) => handler.call(server, req, res));
    const body = JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#AccessDeniedException', message: refusal });
    res.writeHead(403, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  });
};

export const startDynamo = async (opts: { directory: string; port: number }): Promise<RunningDynamo> => {
  mkdirSync(opts.directory, { recursive: true });
  // Table state transitions are instant: nothing local needs to wait for CREATING → ACTIVE.
  const server = dynalite({ path: opts.directory, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  refuseCrossSite(server);
  const address = await listen(server, { service: 'DynamoDB (dynalite)', port: opts.port, envVar: 'WEFT_DYNAMODB_PORT' });
  return { url: urlOf(address), stop: () => close(server) };
};

/** Creates the table unless it exists (state is kept across restarts). */
export const ensureTable = async (endpoint: string, definition: CreateTableCommandInput, tableName: string): Promise<'created' | 'exists'> => {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    try {
      await client.send(new DescribeTableCommand({ TableName: tableName }));
      return 'exists';
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
    await client.send(new CreateTableCommand({ ...definition, TableName: tableName }));
    await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1 }, { TableName: tableName });
    return 'created';
  } finally {
    client.destroy();
  }
};
