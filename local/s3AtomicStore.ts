/**
 * s3rver's filesystem store writes an object in place: two uploads of one key write into the same
 * file at once (the stored bytes mix), a kill mid-upload leaves a truncated or 0-byte object and
 * metadata file, and a damaged metadata file makes every listing of the bucket fail. S3 never does
 * any of that, so this module replaces the store's write and read paths on the instance:
 *
 * - An upload streams into a temp file beside the object (`*.weft-tmp`, never listed); only a
 *   complete body is committed, and the commits of one key run one at a time, in the order their
 *   bodies completed: the last complete upload of a key wins whole.
 * - A commit writes its plan to `commitsDirectory` first, then renames data and metadata into
 *   place, then reports the change (the caller queues its notification, durably) and deletes the
 *   plan. A start finds any plan a kill interrupted, finishes its renames and reports it again, so
 *   an object is never half-replaced and never stored without its notification; leftover temp
 *   files (uploads cut short, never acknowledged) are removed.
 * - The metadata file carries the data file's md5 and inode: a read opens the data file once and
 *   checks it against the metadata (waiting out a commit between its two renames), so bytes,
 *   length and ETag always describe one version.
 *   Metadata that cannot be parsed (an older crash) reads as none instead of failing the listing.
 * - aws-chunked bodies (what the AWS SDK sends for a stream of known length) are decoded, as S3
 *   does, instead of being stored with their chunk framing.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';

export type StoredChange =
  | { action: 'created'; eventName: string; bucket: string; key: string; size: number; eTag: string }
  | { action: 'removed'; bucket: string; key: string };

export interface AtomicStoreOptions {
  /** Where commit plans live: outside s3rver's root, which lists every folder there as a bucket. */
  commitsDirectory: string;
  /** Called inside each commit, before the request is answered; throwing fails the request. */
  onChange(change: StoredChange): void;
  log(message: string): void;
}

type Metadata = Record<string, string | number | undefined>;

interface S3rverObject {
  bucket: string;
  key: string;
  content: Readable | Buffer | null;
  metadata: Metadata;
  range?: { start: number; end: number };
}

/** The part of s3rver's FilesystemStore this module uses and replaces. */
interface FilesystemStore {
  rootDirectory: string;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  getBucketPath(bucket: string): string;
  getMetadata(bucket: string, key: string): Promise<Metadata>;
  getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<S3rverObject | null>;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
  putObjectMultipart(bucket: string, uploadId: string, parts: { number: number; etag: string }[]): Promise<{ size: number; md5: string }>;
  putPart(bucket: string, uploadId: string, partNumber: number, content: Readable): Promise<{ size: number; md5: string }>;
  copyObject(srcBucket: string, srcKey: string, destBucket: string, destKey: string, replacementMetadata?: Metadata | null): Promise<Metadata>;
  deleteObject(bucket: string, key: string): Promise<void>;
}

interface CommitPlan {
  renames: [string, string][];
  removes: string[];
  change: StoredChange;
}

const require = createRequire(import.meta.url);
const S3Object = require('s3rver/lib/models/object.js') as {
  new (bucket: string, key: string, content: Readable | null, metadata: Metadata): S3rverObject;
  ALLOWED_METADATA: string[];
};
const S3Error = require('s3rver/lib/models/error.js') as new (code: string, message: string, detail?: Record<string, unknown>) => Error;

const TEMP_SUFFIX = '.weft-tmp';
/** Private fields of the metadata file: the data file's md5 and inode. */
const MD5_FIELD = 'weft:md5';
const INODE_FIELD = 'weft:ino';
const READ_ATTEMPTS = 5;

const isMissing = (error: unknown): boolean => (error as NodeJS.ErrnoException).code === 'ENOENT';

const unlinkIfPresent = (path: string): void => {
  try {
    unlinkSync(path);
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
};

/** What S3 stores of a request's headers, without the transfer framing. */
const storedMetadata = (metadata: Metadata): Metadata => {
  const out: Metadata = {};
  for (const [name, value] of Object.entries(metadata)) {
    if (value === undefined) continue;
    if (S3Object.ALLOWED_METADATA.includes(name) || name.startsWith('x-amz-meta-')) out[name] = value;
  }
  const encoding = String(out['content-encoding'] ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '' && e.toLowerCase() !== 'aws-chunked')
    .join(',');
  if (encoding === '') delete out['content-encoding'];
  else out['content-encoding'] = encoding;
  return out;
};

const isAwsChunked = (content: unknown): content is IncomingMessage =>
  content instanceof IncomingMessage &&
  (/aws-chunked/i.test(String(content.headers['content-encoding'] ?? '')) || String(content.headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-'));

/**
 * Decodes aws-chunked framing: `<hex size>[;chunk-signature=…]\r\n<bytes>\r\n` repeated, a 0-size
 * chunk, then optional trailers (checksums), which are dropped.
 */
class AwsChunkedDecoder extends Transform {
  private state: 'size' | 'data' | 'crlf' | 'trailer' = 'size';
  private line = Buffer.alloc(0);
  private remaining = 0;
  private crlfLeft = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.state === 'trailer') return callback();
      if (this.state === 'size') {
        const end = chunk.indexOf(0x0a, offset);
        const piece = chunk.subarray(offset, end === -1 ? chunk.length : end + 1);
        this.line = Buffer.concat([this.line, piece]);
        offset += piece.length;
        if (this.line.length > 4096) return callback(new S3Error('IncompleteBody', 'aws-chunked body has a chunk header over 4096 bytes'));
        if (end === -1) continue;
        const header = this.line.toString('latin1').trim();
        this.line = Buffer.alloc(0);
        const size = Number.parseInt(header.split(';')[0] ?? '', 16);
        if (!Number.isFinite(size) || size < 0) return callback(new S3Error('IncompleteBody', `aws-chunked body has a malformed chunk header ${JSON.stringify(header.slice(0, 40))}`));
        if (size === 0) this.state = 'trailer';
        else {
          this.state = 'data';
          this.remaining = size;
        }
      } else if (this.state === 'data') {
        const take = Math.min(this.remaining, chunk.length - offset);
        this.push(chunk.subarray(offset, offset + take));
        offset += take;
        this.remaining -= take;
        if (this.remaining === 0) {
          this.state = 'crlf';
          this.crlfLeft = 2;
        }
      } else {
        const skip = Math.min(this.crlfLeft, chunk.length - offset);
        offset += skip;
        this.crlfLeft -= skip;
        if (this.crlfLeft === 0) this.state = 'size';
      }
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    callback(this.state === 'trailer' ? undefined : new S3Error('IncompleteBody', 'aws-chunked body ended before its final chunk'));
  }
}

export interface AtomicStore {
  /** Finishes commits a kill interrupted (reporting them again) and removes temp files; call before serving. */
  recover(): Promise<number>;
}

export const makeStoreAtomic = (store: FilesystemStore, options: AtomicStoreOptions): AtomicStore => {
  mkdirSync(options.commitsDirectory, { recursive: true });
  let commitCount = 0;
  const damagedReported = new Set<string>();

  const paths = (bucket: string, key: string) => ({
    object: store.getResourcePath(bucket, key, 'object'),
    metadata: store.getResourcePath(bucket, key, 'metadata.json'),
    legacyMd5: store.getResourcePath(bucket, key, 'object.md5'),
  });

  /** Commits of one key, one at a time, in the order their bodies completed. */
  const keyLocks = new Map<string, Promise<void>>();
  const underKeyLock = async (id: string, run: () => Promise<void>): Promise<void> => {
    const previous = keyLocks.get(id) ?? Promise.resolve();
    const mine = previous.then(run);
    const tail = mine.catch(() => undefined);
    keyLocks.set(id, tail);
    try {
      await mine;
    } finally {
      if (keyLocks.get(id) === tail) keyLocks.delete(id);
    }
  };

  /**
   * Runs a plan under its key's lock: the plan on disk first, then the renames and removals, then
   * the report (which assigns the sequencer, so notifications follow commit order), then the plan
   * goes. A kill anywhere in between leaves the plan for recovery to finish.
   */
  const commit = (plan: CommitPlan): Promise<void> =>
    underKeyLock(`${plan.change.bucket}/${plan.change.key}`, async () => {
      // Names sort in commit order, which recovery replays.
      const planFile = join(options.commitsDirectory, `${String(Date.now()).padStart(15, '0')}-${process.pid}-${String(++commitCount).padStart(9, '0')}.json`);
      await writeFile(planFile, JSON.stringify(plan));
      for (const [from, to] of plan.renames) await rename(from, to);
      for (const path of plan.removes) await rm(path, { force: true });
      try {
        options.onChange(plan.change);
      } catch (error) {
        // Stored but not queued: the plan stays, so the next start queues the notification.
        options.log(`[s3] ${plan.change.key} is stored but its notification could not be queued (${(error as Error).message}); it is queued on the next start`);
        throw error;
      }
      await rm(planFile);
    });

  const readMetadataFile = async (file: string): Promise<Metadata> => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (isMissing(error)) return {};
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Metadata;
      throw new Error('not a JSON object');
    } catch (error) {
      if (!damagedReported.has(file)) {
        damagedReported.add(file);
        options.log(`[s3] ${file} is damaged (${(error as Error).message}); serving the object without its stored metadata`);
      }
      return {};
    }
  };

  /** md5 of an object stored before the metadata carried it: s3rver's .md5 file, else the data itself. */
  const legacyMd5 = async (objectPath: string, md5Path: string): Promise<string> => {
    const stored = await readFile(md5Path, 'utf8').then(
      (text) => text.trim(),
      (error: unknown) => {
        if (isMissing(error)) return '';
        throw error;
      },
    );
    if (/^[0-9a-f]{32}$/.test(stored)) return stored;
    const hash = createHash('md5');
    await pipeline((await open(objectPath, 'r')).createReadStream(), async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) hash.update(chunk);
    });
    const md5 = hash.digest('hex');
    const tmp = `${md5Path}.${randomUUID()}${TEMP_SUFFIX}`;
    await writeFile(tmp, md5);
    await rename(tmp, md5Path);
    return md5;
  };

  /**
   * One version of an object: its data file opened (or just stat-ed) and the metadata written with
   * it. A commit between the two reads shows as an inode mismatch, and the read is repeated.
   */
  const readVersion = async (bucket: string, key: string, openData: boolean): Promise<{ handle?: FileHandle; ino: number; size: number; mtime: Date; metadata: Metadata; md5: string }> => {
    const p = paths(bucket, key);
    for (let attempt = 1; ; attempt++) {
      // Throws ENOENT for a missing object, which s3rver's callers expect.
      const handle = openData ? await open(p.object, 'r') : undefined;
      try {
        const st = handle ? await handle.stat() : await stat(p.object);
        const metadata = await readMetadataFile(p.metadata);
        const ino = metadata[INODE_FIELD];
        if (ino !== undefined && ino !== st.ino && attempt < READ_ATTEMPTS) {
          // A commit is between renaming the data and the metadata: let it finish.
          await handle?.close();
          await delay(attempt * 5);
          continue;
        }
        const md5 = typeof metadata[MD5_FIELD] === 'string' && ino === st.ino ? metadata[MD5_FIELD] : await legacyMd5(p.object, p.legacyMd5);
        delete metadata[MD5_FIELD];
        delete metadata[INODE_FIELD];
        return { handle, ino: st.ino, size: st.size, mtime: st.mtime, metadata, md5 };
      } catch (error) {
        await handle?.close();
        throw error;
      }
    }
  };

  const describeVersion = (v: { size: number; mtime: Date; metadata: Metadata; md5: string }): Metadata => ({
    ...v.metadata,
    etag: JSON.stringify(v.md5),
    'last-modified': v.mtime.toUTCString(),
    'content-length': v.size,
  });

  /** Streams `content` into a new temp file beside `finalPath`; returns its size, md5 and inode. */
  const writeTemp = async (finalPath: string, content: Readable | Buffer): Promise<{ tmp: string; size: number; md5: string; ino: number }> => {
    const tmp = `${finalPath}.${randomUUID()}${TEMP_SUFFIX}`;
    let handle: FileHandle | undefined;
    for (let attempt = 1; !handle; attempt++) {
      await mkdir(dirname(finalPath), { recursive: true });
      try {
        handle = await open(tmp, 'wx');
      } catch (error) {
        // A delete of the key's last sibling removed the folder between mkdir and open.
        if (!isMissing(error) || attempt >= 3) throw error;
      }
    }
    const hash = createHash('md5');
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    const source = Buffer.isBuffer(content) ? Readable.from([content]) : content;
    try {
      if (isAwsChunked(content)) await pipeline(source, new AwsChunkedDecoder(), count, handle.createWriteStream());
      else await pipeline(source, count, handle.createWriteStream());
      if (isAwsChunked(content)) {
        const declared = content.headers['x-amz-decoded-content-length'];
        if (declared !== undefined && Number(declared) !== size) {
          throw new S3Error('IncompleteBody', 'You did not provide the number of bytes specified by the x-amz-decoded-content-length header.');
        }
      }
      const { ino } = statSync(tmp);
      return { tmp, size, md5: hash.digest('hex'), ino };
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  };

  /** Writes data and metadata to temp files, then commits both. */
  const storeObject = async (bucket: string, key: string, content: Readable | Buffer, metadata: Metadata, eventName: string): Promise<{ size: number; md5: string }> => {
    const p = paths(bucket, key);
    const data = await writeTemp(p.object, content);
    const metadataTmp = `${p.metadata}.${randomUUID()}${TEMP_SUFFIX}`;
    try {
      await writeFile(metadataTmp, JSON.stringify({ ...storedMetadata(metadata), [MD5_FIELD]: data.md5, [INODE_FIELD]: data.ino }, null, 2));
      await commit({
        renames: [
          [data.tmp, p.object],
          [metadataTmp, p.metadata],
        ],
        removes: [p.legacyMd5],
        change: { action: 'created', eventName, bucket, key, size: data.size, eTag: data.md5 },
      });
    } catch (error) {
      await Promise.all([rm(data.tmp, { force: true }), rm(metadataTmp, { force: true })]);
      throw error;
    }
    return { size: data.size, md5: data.md5 };
  };

  const uploadDir = (bucket: string, uploadId: string): string => join(store.getResourcePath(bucket, undefined, 'uploads'), uploadId);

  store.getMetadata = async (bucket, key) => describeVersion(await readVersion(bucket, key, false));

  store.getObject = async (bucket, key, range) => {
    let version;
    try {
      version = await readVersion(bucket, key, true);
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    const metadata = describeVersion(version);
    // s3rver's range rules, on the file opened above.
    const lastByte = Math.max(0, version.size - 1);
    const bounds = { start: range?.start || 0, end: Math.min(range?.end || Infinity, lastByte) };
    const ranged = range !== undefined && (range.start !== undefined || Boolean(range.end));
    let content: Readable | null = null;
    if (bounds.start < 0 || Math.min(bounds.end, lastByte) < bounds.start) await version.handle!.close();
    else content = version.handle!.createReadStream({ start: bounds.start, end: bounds.end });
    const object = new S3Object(bucket, key, content, metadata);
    if (ranged) object.range = bounds;
    return object;
  };

  store.putObject = (object) => {
    // s3rver's PUT hands over the request itself; a browser-style form POST hands over a part.
    const eventName = object.content instanceof IncomingMessage ? 'ObjectCreated:Put' : 'ObjectCreated:Post';
    return storeObject(object.bucket, object.key, object.content ?? Buffer.alloc(0), object.metadata, eventName);
  };

  store.putPart = async (bucket, uploadId, partNumber, content) => {
    const partPath = join(uploadDir(bucket, uploadId), String(partNumber));
    const part = await writeTemp(partPath, content);
    const md5Tmp = `${partPath}.md5.${randomUUID()}${TEMP_SUFFIX}`;
    await writeFile(md5Tmp, part.md5);
    // A retried part replaces the earlier one whole; the part's md5 file follows it.
    await rename(part.tmp, partPath);
    await rename(md5Tmp, `${partPath}.md5`);
    return { size: part.size, md5: part.md5 };
  };

  store.putObjectMultipart = async (bucket, uploadId, parts) => {
    const dir = uploadDir(bucket, uploadId);
    const [key, metadata] = await Promise.all([readFile(join(dir, 'key'), 'utf8'), readFile(join(dir, 'metadata'), 'utf8').then((t) => JSON.parse(t) as Metadata)]);
    const ordered = [...parts].sort((a, b) => a.number - b.number);
    const content = Readable.from(
      (async function* () {
        for (const part of ordered) yield* (await open(join(dir, String(part.number)), 'r')).createReadStream();
      })(),
    );
    const result = await storeObject(bucket, key, content, metadata, 'ObjectCreated:CompleteMultipartUpload');
    await rm(dir, { recursive: true, force: true });
    return result;
  };

  store.copyObject = async (srcBucket, srcKey, destBucket, destKey, replacementMetadata) => {
    const source = await readVersion(srcBucket, srcKey, true);
    const metadata = replacementMetadata ? replacementMetadata : source.metadata;
    const dest = paths(destBucket, destKey);
    if (paths(srcBucket, srcKey).object === dest.object) {
      // Same key, new metadata only (s3rver refuses a copy onto itself without REPLACE).
      await source.handle!.close();
      // The version read above: if another upload replaced the data meanwhile, readers see the
      // inode differ and take the md5 from the data instead.
      const ino = source.ino;
      const metadataTmp = `${dest.metadata}.${randomUUID()}${TEMP_SUFFIX}`;
      await writeFile(metadataTmp, JSON.stringify({ ...storedMetadata(metadata), [MD5_FIELD]: source.md5, [INODE_FIELD]: ino }, null, 2));
      await commit({ renames: [[metadataTmp, dest.metadata]], removes: [], change: { action: 'created', eventName: 'ObjectCreated:Copy', bucket: destBucket, key: destKey, size: source.size, eTag: source.md5 } });
    } else {
      await storeObject(destBucket, destKey, source.handle!.createReadStream(), metadata, 'ObjectCreated:Copy');
    }
    return store.getMetadata(destBucket, destKey);
  };

  store.deleteObject = async (bucket, key) => {
    const p = paths(bucket, key);
    await commit({ renames: [], removes: [p.object, p.legacyMd5, p.metadata], change: { action: 'removed', bucket, key } });
    // Empty folders go, as s3rver does; a folder an upload is writing into is not empty.
    const parts = key.split('/').slice(0, -1);
    try {
      while (parts.length > 0) {
        rmdirSync(join(store.getBucketPath(bucket), ...parts));
        parts.pop();
      }
    } catch {
      // Not empty (or already gone): done.
    }
  };

  return {
    recover: async () => {
      let recovered = 0;
      for (const name of readdirSync(options.commitsDirectory).filter((n) => n.endsWith('.json')).sort()) {
        const file = join(options.commitsDirectory, name);
        let plan: CommitPlan | undefined;
        try {
          plan = JSON.parse(readFileSync(file, 'utf8')) as CommitPlan;
        } catch {
          // Cut short while being written, before any rename: the upload was never stored.
        }
        if (plan) {
          for (const [from, to] of plan.renames) if (existsSync(from)) renameSync(from, to);
          for (const path of plan.removes) unlinkIfPresent(path);
          options.onChange(plan.change);
          recovered += 1;
        }
        unlinkSync(file);
      }
      // What is left in temp files was never committed, so never acknowledged.
      for (const bucket of readdirSync(store.rootDirectory)) {
        const bucketPath = join(store.rootDirectory, bucket);
        if (!statSync(bucketPath).isDirectory()) continue;
        for (const entry of readdirSync(bucketPath, { recursive: true, encoding: 'utf8' })) {
          if (entry.endsWith(TEMP_SUFFIX)) unlinkIfPresent(join(bucketPath, entry));
        }
      }
      return recovered;
    },
  };
};
