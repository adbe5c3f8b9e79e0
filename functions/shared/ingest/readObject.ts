/**
 * Fetches an upload with a hard size cap, so one oversized object can neither exhaust the
 * function's memory nor be retried forever.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PermanentError } from '../errors.js';

const isMissing = (error: unknown): boolean =>
  error instanceof Error && (error.name === 'NoSuchKey' || error.name === 'NotFound' || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404);

export const tooLarge = (size: number, maxBytes: number): PermanentError =>
  new PermanentError('too_large', `object is ${size} bytes, more than the limit of ${maxBytes} bytes`);

export const readObject = async (s3: S3Client, bucket: string, key: string, maxBytes: number): Promise<Uint8Array> => {
  let response;
  try {
    response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    // Deleted between the event and now; its removal event follows (or already came).
    if (isMissing(error)) throw new PermanentError('object_missing', `object ${key} no longer exists`, { cause: error });
    throw error;
  }
  const body = response.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
  if (body === undefined) return new Uint8Array(0);
  if (response.ContentLength !== undefined && response.ContentLength > maxBytes) {
    body.destroy?.();
    throw tooLarge(response.ContentLength, maxBytes);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      body.destroy?.();
      throw tooLarge(total, maxBytes);
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
};
