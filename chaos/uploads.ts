/**
 * Uploading a catalog with the real S3 client, C products at a time (each product's files in
 * order), while the stack may be killed and restarted underneath: an upload that fails waits
 * until the stack is back and is sent again, as a vendor's tool would retry it. Only an answered
 * PutObject counts as acknowledged.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Product, UploadFile } from './catalog.js';

/** Closed while the stack is down; uploads that failed wait on it. */
export class Gate {
  private waiting: Promise<void> | undefined;
  private release: (() => void) | undefined;

  close(): void {
    if (this.waiting) return;
    this.waiting = new Promise((resolve) => (this.release = resolve));
  }

  open(): void {
    this.release?.();
    this.waiting = undefined;
    this.release = undefined;
  }

  wait(): Promise<void> {
    return this.waiting ?? Promise.resolve();
  }
}

export const s3ClientFor = (endpoint: string): S3Client =>
  new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'chaos', secretAccessKey: 'chaos' },
    // The runner decides about retries (after a restart), so a refused connection shows at once.
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
  });

export interface UploadOutcome {
  acknowledged: Set<string>;
  /** Keys never acknowledged after every attempt, with the last error. */
  failed: Map<string, string>;
  /** PutObject calls that failed (each is sent again while attempts remain). */
  failedPuts: number;
  lastAckAt: number;
}

export interface UploadOptions {
  bucket: string;
  concurrency: number;
  /** The client of the stack running now. */
  client: () => S3Client;
  gate: Gate;
  /** Called after each acknowledgement with the running count (kill triggers hook in here). */
  onAck?: (count: number, key: string) => void;
  maxAttemptsPerFile: number;
  deadline: number;
}

export const uploadCatalog = async (products: Product[], opts: UploadOptions): Promise<UploadOutcome> => {
  const outcome: UploadOutcome = { acknowledged: new Set(), failed: new Map(), failedPuts: 0, lastAckAt: performance.now() };
  const send = async (file: UploadFile): Promise<void> => {
    let lastError = '';
    for (let attempt = 1; attempt <= opts.maxAttemptsPerFile && Date.now() < opts.deadline; attempt++) {
      await opts.gate.wait();
      try {
        await opts.client().send(new PutObjectCommand({ Bucket: opts.bucket, Key: file.key, Body: file.body, ContentType: file.contentType }));
        outcome.acknowledged.add(file.key);
        outcome.lastAckAt = performance.now();
        opts.onAck?.(outcome.acknowledged.size, file.key);
        return;
      } catch (error) {
        lastError = (error as Error).message;
        outcome.failedPuts++;
        // A refusal before the gate closes (the kill is under way) must not spin.
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    outcome.failed.set(file.key, lastError || 'upload deadline passed');
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < products.length) {
      const product = products[next++]!;
      for (const file of product.files) await send(file);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  return outcome;
};
