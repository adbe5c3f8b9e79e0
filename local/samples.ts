/**
 * First start of a fresh $WEFT_HOME: upload the bundled sample catalog so the API has products to
 * show. A marker file records that it happened, so restarts (and products a person deleted) are
 * left alone; delete the marker, or the whole home, to load the samples again.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { scanCatalog } from './upload/catalogFiles.js';
import { uploadFiles } from './upload/uploadFiles.js';

export type SampleIngest =
  | { status: 'ingested'; files: number; products: number; failed: number; skipped: number }
  | { status: 'already-ingested'; at: string }
  | { status: 'no-samples'; dir: string };

export const SAMPLES_MARKER = 'samples-ingested.json';

export const ingestSamplesOnce = async (opts: { s3: S3Client; bucket: string; home: string; samplesDir: string }): Promise<SampleIngest> => {
  const marker = join(opts.home, SAMPLES_MARKER);
  if (existsSync(marker)) {
    const { at } = JSON.parse(readFileSync(marker, 'utf8')) as { at: string };
    return { status: 'already-ingested', at };
  }
  if (!existsSync(opts.samplesDir)) return { status: 'no-samples', dir: opts.samplesDir };
  const scan = scanCatalog(opts.samplesDir);
  if (scan.files.length === 0) return { status: 'no-samples', dir: opts.samplesDir };
  const result = await uploadFiles(opts.s3, opts.bucket, scan.files, { concurrency: 8 });
  const products = new Set(result.uploaded.map((f) => f.key.split('/').slice(0, 2).join('/'))).size;
  writeFileSync(marker, `${JSON.stringify({ at: new Date().toISOString(), files: result.uploaded.length, products }, null, 2)}\n`);
  return { status: 'ingested', files: result.uploaded.length, products, failed: result.failed.length, skipped: scan.skipped.length };
};
