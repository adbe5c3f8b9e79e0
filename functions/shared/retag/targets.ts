/**
 * Which listed objects a re-tag looks at, by the upload layout (functions/shared/layout.ts): an
 * image or a product.json of the filters' vendor and modality. Derived views and keys outside the
 * layout are skipped (a re-tag records no rejection: the upload's own notification did).
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { decodeS3Key, parseKey } from '../layout.js';
import type { SourceRef } from '../products/keys.js';
import { listPrefix, type RetagFilters, type RetagModality } from './filters.js';

export interface RetagTarget {
  kind: RetagModality;
  key: string;
  /** The source the object's ingest writes: `SRC#image#{name}` or `SRC#text`. */
  ref: SourceRef;
}

/** Why a listed key is not a target (`no_model`: the deployment has no model of its modality). */
export type IgnoredReason = 'derived' | 'outside_layout' | 'other_vendor' | 'other_modality' | 'no_model';

export const IGNORED_REASONS: readonly IgnoredReason[] = ['derived', 'outside_layout', 'other_vendor', 'other_modality', 'no_model'];

export type Classified = { target: RetagTarget } | { ignored: IgnoredReason };

export const classifyKey = (key: string, filters: RetagFilters): Classified => {
  const parsed = parseKey(key);
  if (parsed.kind === 'derived') return { ignored: 'derived' };
  if (parsed.kind === 'rejected') return { ignored: 'outside_layout' };
  if (filters.vendor !== undefined && parsed.vendor !== filters.vendor) return { ignored: 'other_vendor' };
  if (filters.modality !== undefined && parsed.kind !== filters.modality) return { ignored: 'other_modality' };
  const ref: SourceRef =
    parsed.kind === 'image'
      ? { vendor: parsed.vendor, productId: parsed.productId, kind: 'image', name: parsed.name }
      : { vendor: parsed.vendor, productId: parsed.productId, kind: 'text' };
  return { target: { kind: parsed.kind, key, ref } };
};

/** A listed object as the re-tag job's items carry it: the key, URL-encoded when it came from an S3 Inventory report. */
export interface ListedItem {
  key: string;
}

export const listedKey = (item: ListedItem, encoded: boolean): string => (encoded ? decodeS3Key(item.key) : item.key);

/**
 * Every key under the filters' prefix, page by page (ListObjectsV2, 1000 per page): what the re-tag
 * job's item reader lists on AWS, for the local path.
 */
export async function* listKeys(s3: S3Client, bucket: string, filters: RetagFilters): AsyncGenerator<ListedItem> {
  let token: string | undefined;
  const prefix = listPrefix(filters);
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ...(prefix ? { Prefix: prefix } : {}), ...(token ? { ContinuationToken: token } : {}) }));
    for (const object of page.Contents ?? []) if (object.Key !== undefined) yield { key: object.Key };
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}
