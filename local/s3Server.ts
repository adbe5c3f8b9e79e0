/**
 * Local S3: s3rver persisted under $WEFT_HOME/s3, with the uploads bucket created up front and its
 * notifications rewritten to the shape S3 delivers (see s3Events.ts).
 */
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import type { S3EventRecord } from 'aws-lambda';
import S3rver from 's3rver';
import { close, listen, urlOf } from './listen.js';
import { deleteRecord, normalizeRecord } from './s3Events.js';

export interface S3ServerOptions {
  directory: string;
  port: number;
  bucket: string;
  region: string;
  /** Called for every object created or removed, in the order S3 would notify. */
  onRecord(record: S3EventRecord): void;
}

export interface RunningS3Server {
  url: string;
  stop(): Promise<void>;
}

interface AccountRegistry {
  registry: Map<string, unknown> & { get(id: string): unknown };
  DUMMY_ACCOUNT: unknown;
}

/**
 * s3rver only accepts its own access key; a person pointing the AWS CLI at the local endpoint has
 * their real (or any) keys configured. SigV4 is not verified by s3rver anyway, so any key maps to
 * its single account, as with other local S3 stand-ins.
 */
const acceptAnyAccessKey = (): void => {
  const require = createRequire(import.meta.url);
  const accounts = require('s3rver/lib/models/account.js') as AccountRegistry;
  const { registry, DUMMY_ACCOUNT } = accounts;
  if ((registry as { weftPatched?: boolean }).weftPatched) return;
  const get = Map.prototype.get.bind(registry);
  registry.get = (id: string) => get(id) ?? DUMMY_ACCOUNT;
  (registry as { weftPatched?: boolean }).weftPatched = true;
};

interface Store {
  deleteObject(bucket: string, key: string): Promise<void>;
}

export const startS3Server = async (options: S3ServerOptions): Promise<RunningS3Server> => {
  mkdirSync(options.directory, { recursive: true });
  acceptAnyAccessKey();
  const s3rver = new S3rver({
    directory: options.directory,
    silent: true,
    configureBuckets: [{ name: options.bucket, configs: [] }],
    // Path-style only: virtual-host buckets would need DNS for *.localhost.
    vhostBuckets: false,
  });
  await s3rver.configureBuckets();

  s3rver.on('event', (event: { Records: S3EventRecord[] }) => {
    for (const record of event.Records) {
      // Deletions are reported from the store below, which also sees multi-object deletes.
      if (record.eventName.startsWith('ObjectRemoved')) continue;
      options.onRecord(normalizeRecord(record, options.region));
    }
  });
  const store = (s3rver as unknown as { store: Store }).store;
  const deleteObject = store.deleteObject.bind(store);
  store.deleteObject = async (bucket: string, key: string) => {
    await deleteObject(bucket, key);
    options.onRecord(deleteRecord(bucket, key, options.region));
  };

  const server: Server = createServer(s3rver.callback());
  const address = await listen(server, { service: 'S3 (s3rver)', port: options.port, envVar: 'WEFT_S3_PORT' });
  return { url: urlOf(address), stop: () => close(server) };
};
