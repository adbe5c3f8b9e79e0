/**
 * Addresses a browser can load an upload or a derived view from. The bucket is private
 * everywhere: on AWS each address is a presigned GET of that one object, valid for
 * {@link PRESIGNED_URL_SECONDS}; locally the API server serves the local S3's objects under a
 * path of its own (WEFT_IMAGE_URL_BASE, set by the local stack), so pages need no other origin.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

export interface ImageUrls {
  /** An address for the object `key` of the uploads bucket. */
  url(key: string): Promise<string>;
}

/** Long enough to load a page and look at it, short enough that a copied address soon stops working. */
export const PRESIGNED_URL_SECONDS = 300;

export const presignedImageUrls = (s3: S3Client, bucket: string, expiresIn = PRESIGNED_URL_SECONDS): ImageUrls => ({
  url: (key) => getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn }),
});

/** `{base}/{key}`, each key segment percent-encoded (keys keep their `/`). */
export const servedImageUrls = (base: string): ImageUrls => ({
  url: async (key) => `${base.replace(/\/+$/, '')}/${key.split('/').map(encodeURIComponent).join('/')}`,
});

/** Local stack: the API server's path; anywhere else: presigned URLs. */
export const imageUrlsFromEnv = (env: NodeJS.ProcessEnv, s3: () => S3Client, bucket: string): ImageUrls =>
  env.WEFT_IMAGE_URL_BASE ? servedImageUrls(env.WEFT_IMAGE_URL_BASE) : presignedImageUrls(s3(), bucket);
