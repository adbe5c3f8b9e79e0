/**
 * Local S3: s3rver persisted under $WEFT_HOME/s3, with the uploads bucket created up front, writes
 * made atomic (s3AtomicStore.ts) and each committed change reported, as S3 notifies it, before the
 * request is answered (so a notification queued durably by `onRecord` means acknowledged = kept).
 */
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import type { S3EventRecord } from 'aws-lambda';
import S3rver from 's3rver';
import { answerMalformedRequests } from './clientErrors.js';
import { crossSiteRefusal } from './crossSiteGuard.js';
import { close, listen, urlOf } from './listen.js';
import { makeStoreAtomic } from './s3AtomicStore.js';
import { createdRecord, deleteRecord } from './s3Events.js';
import { SequencerClock } from './sequencer.js';

export interface S3ServerOptions {
  directory: string;
  /** Commit plans of the atomic store (default: `<directory>-commits`). */
  commitsDirectory?: string;
  port: number;
  bucket: string;
  region: string;
  /** Issues the notifications' sequencers (default: one that only grows within this process). */
  sequencers?: SequencerClock;
  /**
   * Called for every object created or removed, in commit order, before S3 answers the request;
   * throwing fails the request (the client sees an error and retries).
   */
  onRecord(record: S3EventRecord): void;
  log?: (message: string) => void;
}

export interface RunningS3Server {
  url: string;
  stop(): Promise<void>;
}

interface AccountRegistry {
  registry: Map<string, unknown> & { get(id: string): unknown };
  DUMMY_ACCOUNT: unknown;
}

const require = createRequire(import.meta.url);
const S3Error = require('s3rver/lib/models/error.js') as new (code: string, message: string) => Error & { toXML(): string };

const s3ErrorXml = (code: string, message: string): string => new S3Error(code, message).toXML();

/**
 * s3rver only accepts its own access key; a person pointing the AWS CLI at the local endpoint has
 * their real (or any) keys configured. SigV4 is not verified by s3rver anyway, so any key maps to
 * its single account, as with other local S3 stand-ins.
 */
const acceptAnyAccessKey = (): void => {
  const accounts = require('s3rver/lib/models/account.js') as AccountRegistry;
  const { registry, DUMMY_ACCOUNT } = accounts;
  if ((registry as { weftPatched?: boolean }).weftPatched) return;
  const get = Map.prototype.get.bind(registry);
  registry.get = (id: string) => get(id) ?? DUMMY_ACCOUNT;
  (registry as { weftPatched?: boolean }).weftPatched = true;
};

export const startS3Server = async (options: S3ServerOptions): Promise<RunningS3Server> => {
  mkdirSync(options.directory, { recursive: true });
  acceptAnyAccessKey();
  const log = options.log ?? ((message: string) => console.error(message));
  const sequencers = options.sequencers ?? new SequencerClock();
  const s3rver = new S3rver({
    directory: options.directory,
    silent: true,
    configureBuckets: [{ name: options.bucket, configs: [] }],
    // Path-style only: virtual-host buckets would need DNS for *.localhost.
    vhostBuckets: false,
  });
  await s3rver.configureBuckets();

  // s3rver's own 'event's are not used: they fire outside the store's commit (see s3Events.ts).
  const store = makeStoreAtomic((s3rver as unknown as { store: Parameters<typeof makeStoreAtomic>[0] }).store, {
    commitsDirectory: options.commitsDirectory ?? `${options.directory}-commits`,
    log,
    onChange: (change) =>
      options.onRecord(change.action === 'created' ? createdRecord(change, options.region, sequencers.next()) : deleteRecord(change.bucket, change.key, options.region, sequencers.next())),
  });
  const recovered = await store.recover();
  if (recovered > 0) log(`[s3] finished ${recovered} write${recovered === 1 ? '' : 's'} a stop cut short`);

  const app = s3rver.callback();
  const server: Server = createServer((req, res) => {
    const refusal = crossSiteRefusal(req);
    if (!refusal) return void app(req, res);
    const body = s3ErrorXml('AccessDenied', refusal);
    res.writeHead(403, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  });
  answerMalformedRequests(server, (status, message) => ({
    contentType: 'application/xml',
    body: s3ErrorXml(status === 431 ? 'RequestHeaderSectionTooLarge' : 'BadRequest', message),
  }));
  const address = await listen(server, { service: 'S3 (s3rver)', port: options.port, envVar: 'WEFT_S3_PORT' });
  return { url: urlOf(address), stop: () => close(server) };
};
