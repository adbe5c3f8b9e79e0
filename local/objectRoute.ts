/**
 * GET /local/objects/{key}: the local S3's objects for the console's pages, from the API server's
 * own origin (AWS hands out presigned URLs instead; functions/api/imageUrls.ts). Only pictures are
 * served as pictures: the content type comes from the object's leading bytes, never from what the
 * uploader claimed, so an upload holding HTML or SVG cannot run script on this origin; anything
 * else is an attachment in a sandbox.
 */
import { GetObjectCommand, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import { sniffFormat } from '../functions/shared/image/sniffFormat.js';
import type { LocalRoute, RawAnswer } from './apiServer.js';

export const LOCAL_OBJECTS_PATH = '/local/objects';

/** Browsers render these as images; TIFF, AVIF and HEIF still reach the console as downloads they can't show. */
const IMAGE_TYPES: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif', avif: 'image/avif' };

const SAFE_HEADERS = { 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'none'; sandbox", 'cache-control': 'private, max-age=60' };

const notFound = (key: string): RawAnswer => ({ status: 404, raw: Buffer.from(JSON.stringify({ message: `no object ${key}` })), headers: { 'content-type': 'application/json' } });

export const objectRoute =
  (s3: () => S3Client, bucket: string): LocalRoute =>
  async (method, path) => {
    if ((method !== 'GET' && method !== 'HEAD') || !path.startsWith(`${LOCAL_OBJECTS_PATH}/`)) return undefined;
    let key: string;
    try {
      key = path
        .slice(LOCAL_OBJECTS_PATH.length + 1)
        .split('/')
        .map(decodeURIComponent)
        .join('/');
    } catch {
      return { status: 400, body: { message: 'malformed percent-encoding in path' } };
    }
    if (key === '') return notFound(key);
    let bytes: Buffer;
    try {
      const object = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      bytes = Buffer.from(await object.Body!.transformToByteArray());
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return notFound(key);
      throw error;
    }
    const sniffed = sniffFormat(bytes);
    const type = sniffed.kind === 'supported' ? IMAGE_TYPES[sniffed.format] : undefined;
    return {
      status: 200,
      raw: bytes,
      headers: type ? { ...SAFE_HEADERS, 'content-type': type } : { ...SAFE_HEADERS, 'content-type': 'application/octet-stream', 'content-disposition': 'attachment' },
    };
  };
