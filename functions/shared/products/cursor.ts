/**
 * Page cursors: the DynamoDB start key of the next page, opaque to clients (base64url JSON) and
 * checked strictly on the way back in against the query it continues — exactly the table and
 * index key attributes, strings DynamoDB accepts as keys, the index partition the query reads, a
 * sort key inside the query's key condition and table keys that belong to that index entry. A
 * cursor edited by hand or taken from another query is an InvalidCursorError (the API answers
 * 400), never a start key DynamoDB would refuse (which would surface as a 500).
 */
import { z } from 'zod';
import { CORRECTIONS_GSI_PK, PRODUCT_SK, REJECTION_SK, REJECTIONS_GSI_PK, attributeGsiPk, attributeSk, productPk, rejectionPk, sourceSk } from './keys.js';

export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
}

/** DynamoDB's limits on key values: UTF-8 bytes of partition and sort keys. */
const MAX_PARTITION_KEY_BYTES = 2048;
const MAX_SORT_KEY_BYTES = 1024;

/** Non-empty, well-formed UTF-16 (a lone surrogate cannot be sent as UTF-8) and within `maxBytes`. */
const keyString = (maxBytes: number) =>
  z
    .string()
    .min(1)
    .refine((s) => {
      const utf8 = Buffer.from(s, 'utf8');
      return utf8.byteLength <= maxBytes && utf8.toString('utf8') === s;
    });

const IndexStartKeySchema = z.strictObject({
  pk: keyString(MAX_PARTITION_KEY_BYTES),
  sk: keyString(MAX_SORT_KEY_BYTES),
  gsi1pk: keyString(MAX_PARTITION_KEY_BYTES),
  gsi1sk: keyString(MAX_SORT_KEY_BYTES),
});

export type IndexStartKey = z.infer<typeof IndexStartKeySchema>;

/** The query a cursor continues: the index partition it reads and what its items' keys look like. */
export interface CursorScope {
  gsi1pk: string;
  /** Whether a start key lies inside the query's key condition and is an item of that partition. */
  accepts(key: IndexStartKey): boolean;
}

export const encodeCursor = (key: Record<string, unknown> | undefined): string | undefined =>
  key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;

export const decodeCursor = (cursor: string | undefined, scope: CursorScope): IndexStartKey | undefined => decodeCursorIn(cursor, [scope])?.key;

/**
 * A cursor of a query that may read one of several index partitions (the listing picks the one
 * its filters narrow down most, and pages through vendors one after the other): the key must
 * belong to one of `scopes`, which is returned with it.
 */
export const decodeCursorIn = <S extends CursorScope>(cursor: string | undefined, scopes: readonly S[]): { key: IndexStartKey; scope: S } | undefined => {
  if (cursor === undefined || cursor === '') return undefined;
  const json = Buffer.from(cursor, 'base64url').toString('utf8');
  // Only the canonical encoding of valid UTF-8 round-trips; anything else was not made here.
  if (Buffer.from(json, 'utf8').toString('base64url') !== cursor) throw new InvalidCursorError('invalid cursor: not a cursor this API returned');
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new InvalidCursorError('invalid cursor: not a cursor this API returned');
  }
  const key = IndexStartKeySchema.safeParse(parsed);
  if (!key.success) throw new InvalidCursorError('invalid cursor: not a cursor this API returned');
  const scope = scopes.find((s) => s.gsi1pk === key.data.gsi1pk);
  if (scope === undefined || !scope.accepts(key.data)) throw new InvalidCursorError('invalid cursor: it belongs to another query');
  return { key: key.data, scope };
};

/** `{vendor}#{productId}` and the like: the key parts, or undefined when there are not `count`. */
const parts = (value: string, count: number): string[] | undefined => {
  const split = value.split('#');
  return split.length === count && split.every((p) => p.length > 0) ? split : undefined;
};

/** findByAttribute: `{task}#{value}` entries, `{vendor}#{productId}` sort keys (optionally of one vendor). */
export const attributeScope = (task: string, value: string, vendor?: string): CursorScope => ({
  gsi1pk: attributeGsiPk(task, value),
  accepts: (key) => {
    const [v, productId] = parts(key.gsi1sk, 2) ?? [];
    return v !== undefined && productId !== undefined && (vendor === undefined || v === vendor) && key.pk === productPk(v, productId) && key.sk === attributeSk(task);
  },
});

/** listRejections: `{eventTime}#{object key}` sort keys (the object key may contain `#`). */
export const rejectionScope = (): CursorScope => ({
  gsi1pk: REJECTIONS_GSI_PK,
  accepts: (key) => {
    const at = key.gsi1sk.indexOf('#');
    return at > 0 && key.pk === rejectionPk(key.gsi1sk.slice(at + 1)) && key.sk === REJECTION_SK;
  },
});

/** listCorrections: `{updatedAt}#{vendor}#{productId}#{task}` sort keys after `since`. */
export const correctionScope = (since: string): CursorScope => ({
  gsi1pk: CORRECTIONS_GSI_PK,
  accepts: (key) => {
    const [, vendor, productId, task] = parts(key.gsi1sk, 4) ?? [];
    return (
      vendor !== undefined &&
      productId !== undefined &&
      task !== undefined &&
      key.gsi1sk > since &&
      key.pk === productPk(vendor, productId) &&
      key.sk === sourceSk({ kind: 'human', name: task })
    );
  },
});

/** Index items in a product's partition keyed `{vendor}#{productId}` (status, abstained): the item is `sk` of that product. */
export const productEntryScope = (gsi1pk: string, sk: string, vendor?: string): CursorScope => ({
  gsi1pk,
  accepts: (key) => {
    const [v, productId] = parts(key.gsi1sk, 2) ?? [];
    return v !== undefined && productId !== undefined && (vendor === undefined || v === vendor) && key.pk === productPk(v, productId) && key.sk === sk;
  },
});

/** Index items keyed `{bucket}#{vendor}#{productId}` (confidence, review), optionally below a bucket. */
export const scoredEntryScope = (gsi1pk: string, sk: string, below?: string): CursorScope => ({
  gsi1pk,
  accepts: (key) => {
    const [bucket, v, productId] = parts(key.gsi1sk, 3) ?? [];
    return bucket !== undefined && v !== undefined && productId !== undefined && /^[0-9]{3}$/.test(bucket) && (below === undefined || bucket < below) && key.pk === productPk(v, productId) && key.sk === sk;
  },
});

/** A vendor's review queue: `{bucket}#{productId}` sort keys. */
export const vendorScoredEntryScope = (gsi1pk: string, sk: string, vendor: string): CursorScope => ({
  gsi1pk,
  accepts: (key) => {
    const [bucket, productId] = parts(key.gsi1sk, 2) ?? [];
    return bucket !== undefined && productId !== undefined && /^[0-9]{3}$/.test(bucket) && key.pk === productPk(vendor, productId) && key.sk === sk;
  },
});

/** A vendor's product items: `{productId}` sort keys. */
export const vendorProductsScope = (gsi1pk: string, vendor: string): CursorScope => ({
  gsi1pk,
  accepts: (key) => !key.gsi1sk.includes('#') && key.pk === productPk(vendor, key.gsi1sk) && key.sk === PRODUCT_SK,
});
