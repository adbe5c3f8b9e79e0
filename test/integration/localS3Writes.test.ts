/**
 * How the local S3 stores what it acknowledges, over real HTTP: concurrent uploads of one key,
 * uploads a client abandons mid-body, streamed SDK uploads (aws-chunked), and state damaged by an
 * older crash. S3 itself never mixes two uploads of a key and never shows a half-written object.
 */
import { createHash } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { S3EventRecord } from 'aws-lambda';
import { decodeS3Key } from '../../functions/shared/layout.js';
import type { RunningStack } from '../../local/stack.js';
import { startBareStack } from './support/bareStack.js';

const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex');

/** Bodies of `size` bytes that differ in every byte, so any mix of two is visible. */
const patterned = (n: number, size: number): Buffer => Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + n * 31) % 251));

const openPut = (stack: RunningStack, key: string, length: number) => {
  const url = new URL(stack.urls.s3);
  let settle: (status: number) => void = () => undefined;
  const done = new Promise<number>((r) => (settle = r));
  const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: `/${stack.bucket}/${key}`, agent: false, headers: { 'content-length': length } }, (res) => {
    res.resume();
    res.on('end', () => settle(res.statusCode ?? 0));
  });
  req.on('error', () => settle(0));
  return { req, done };
};

const getBytes = async (stack: RunningStack, key: string): Promise<{ body: Buffer; eTag: string }> => {
  const res = await stack.s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
  return { body: Buffer.from(await res.Body!.transformToByteArray()), eTag: (res.ETag ?? '').replace(/"/g, '') };
};

describe('local S3 writes', () => {
  let home: string;
  let stack: RunningStack;
  let stop: () => Promise<void>;
  const records: S3EventRecord[] = [];

  beforeAll(async () => {
    ({ stack, home, stop } = await startBareStack('s3-writes', { onS3Record: (record) => records.push(record) }));
  });

  afterAll(async () => {
    await stop?.();
  });

  it('concurrent uploads of one key: the last complete upload wins whole, never a mix', async () => {
    const key = 'acme/race/images/a.png';
    const size = 256 * 1024;
    const bodies = Array.from({ length: 6 }, (_, n) => patterned(n, size));
    const puts = bodies.map(() => openPut(stack, key, size));
    // Interleave the bodies chunk by chunk, so all six are being written at once.
    const chunk = 16 * 1024;
    for (let offset = 0; offset < size; offset += chunk) {
      for (const [n, put] of puts.entries()) put.req.write(bodies[n]!.subarray(offset, offset + chunk));
      await new Promise((r) => setTimeout(r, 2));
    }
    for (const put of puts) put.req.end();
    expect(await Promise.all(puts.map((p) => p.done))).toEqual(Array(6).fill(200));

    const { body, eTag } = await getBytes(stack, key);
    const winner = bodies.findIndex((b) => b.equals(body));
    expect(winner, 'the stored object is exactly one of the uploads').toBeGreaterThanOrEqual(0);
    expect(eTag).toBe(md5(body));
    const head = await stack.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: key }));
    expect(head.ContentLength).toBe(size);
    // The notification S3 sent last for the key describes what is stored.
    const last = records.filter((r) => decodeS3Key(r.s3.object.key) === key).sort((a, b) => a.s3.object.sequencer.localeCompare(b.s3.object.sequencer)).at(-1);
    expect(last?.s3.object.eTag).toBe(md5(body));
  });

  it('an upload abandoned mid-body leaves the previous version whole and notifies nothing', async () => {
    const key = 'acme/abandon/product.json';
    const before = Buffer.from(JSON.stringify({ title: 'kept' }));
    await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: before }));
    const notified = records.length;
    const put = openPut(stack, key, 200_000);
    put.req.write(Buffer.alloc(50_000, 120));
    await new Promise((r) => setTimeout(r, 100));
    put.req.destroy();
    expect(await put.done).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    const { body, eTag } = await getBytes(stack, key);
    expect(body.equals(before)).toBe(true);
    expect(eTag).toBe(md5(before));
    expect(records.slice(notified).map((r) => decodeS3Key(r.s3.object.key))).not.toContain(key);
    const listed = await stack.s3.send(new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: 'acme/abandon/' }));
    expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([[key, before.length]]);
  });

  it('stores the bytes of a streamed SDK upload (aws-chunked), not its framing', async () => {
    const key = 'acme/stream/images/a.png';
    const body = patterned(9, 100_000);
    await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: Readable.from([body.subarray(0, 40_000), body.subarray(40_000)]), ContentLength: body.length }));
    const stored = await getBytes(stack, key);
    expect(stored.body.length).toBe(body.length);
    expect(stored.body.equals(body)).toBe(true);
    expect(stored.eTag).toBe(md5(body));
    const last = records.filter((r) => decodeS3Key(r.s3.object.key) === key).at(-1);
    expect(last?.s3.object.size).toBe(body.length);
  });

  it('multipart uploads and copies are stored whole and notified as S3 names them', async () => {
    const key = 'acme/multi/images/a.png';
    const parts = [patterned(1, 300_000), patterned(2, 200_000)];
    const { UploadId } = await stack.s3.send(new CreateMultipartUploadCommand({ Bucket: stack.bucket, Key: key, ContentType: 'image/png' }));
    const etags: string[] = [];
    for (const [i, part] of parts.entries()) {
      const { ETag } = await stack.s3.send(new UploadPartCommand({ Bucket: stack.bucket, Key: key, UploadId, PartNumber: i + 1, Body: part }));
      etags.push(ETag!);
    }
    await stack.s3.send(new CompleteMultipartUploadCommand({ Bucket: stack.bucket, Key: key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
    const whole = Buffer.concat(parts);
    expect((await getBytes(stack, key)).body.equals(whole)).toBe(true);

    const copy = 'acme/copy/images/a.png';
    await stack.s3.send(new CopyObjectCommand({ Bucket: stack.bucket, Key: copy, CopySource: `${stack.bucket}/${key}` }));
    expect((await getBytes(stack, copy)).body.equals(whole)).toBe(true);
    await stack.s3.send(new CopyObjectCommand({ Bucket: stack.bucket, Key: copy, CopySource: `${stack.bucket}/${copy}`, MetadataDirective: 'REPLACE', ContentType: 'image/x-test' }));
    const head = await stack.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: copy }));
    expect(head.ContentType).toBe('image/x-test');
    expect(head.ETag?.replace(/"/g, '')).toBe(md5(whole));

    const events = records.filter((r) => [key, copy].includes(decodeS3Key(r.s3.object.key))).map((r) => [decodeS3Key(r.s3.object.key), r.eventName, r.s3.object.size]);
    expect(events).toEqual([
      [key, 'ObjectCreated:CompleteMultipartUpload', whole.length],
      [copy, 'ObjectCreated:Copy', whole.length],
      [copy, 'ObjectCreated:Copy', whole.length],
    ]);
  });

  it('a damaged metadata file (as an older crash left) does not break listing or reading', async () => {
    const key = 'acme/damaged/images/a.png';
    const body = Buffer.from('still here');
    await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body, ContentType: 'image/png' }));
    const dir = join(home, 's3', stack.bucket, 'acme', 'damaged', 'images');
    const metadata = readdirSync(dir).find((f) => f.endsWith('metadata.json'));
    expect(metadata).toBeDefined();
    writeFileSync(join(dir, metadata!), '');
    const listed = await stack.s3.send(new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: 'acme/' }));
    expect(listed.Contents?.map((o) => o.Key)).toContain(key);
    const stored = await getBytes(stack, key);
    expect(stored.body.equals(body)).toBe(true);
  });
});
