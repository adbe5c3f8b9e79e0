/** Uploads catalog files with a bounded number of PUTs in flight; one failed file never stops the rest. */
import { readFile } from 'node:fs/promises';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describeError } from '../../functions/shared/errors.js';
import { contentTypeOf, type CatalogFile } from './catalogFiles.js';

export interface UploadResult {
  uploaded: CatalogFile[];
  failed: { file: CatalogFile; error: string }[];
  bytes: number;
}

export const uploadFiles = async (
  s3: S3Client,
  bucket: string,
  files: CatalogFile[],
  opts: { concurrency?: number; onProgress?: (done: number, file: CatalogFile) => void } = {},
): Promise<UploadResult> => {
  const result: UploadResult = { uploaded: [], failed: [], bytes: 0 };
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const file = files[next++]!;
      try {
        const body = await readFile(file.path);
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: file.key, Body: body, ContentType: contentTypeOf(file.key) }));
        result.uploaded.push(file);
        result.bytes += body.length;
      } catch (error) {
        result.failed.push({ file, error: describeError(error) });
      }
      opts.onProgress?.(++done, file);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 8, files.length)) }, worker));
  return result;
};
