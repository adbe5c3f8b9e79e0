/**
 * What the catalog listing, the review queue and the facet counts know of a product, derived from
 * its product item alone. Pure: the merge stores these fields on the product item, and everything
 * the index items and counters hold is a function of that item, so two merges of the same product
 * compute the same entries and a later merge can tell which entries an earlier one wrote.
 * Item design: README.md in this folder.
 */
import { own } from '../ownKeys.js';
import type { Attributes, TaskRanking } from './ensemble.js';
import type { ProductItem, SourceItem } from './items.js';

export type ProductStatus = 'pending' | 'tagged' | 'error';

/** Fields the merge adds to the product item for the listing (none of them is in the product view). */
export interface ListingFields {
  /** Absent while the product has no live source (everything deleted): then it is listed nowhere. */
  status?: ProductStatus;
  /** product.json's `title`, as the vendor wrote it (shortened), for the grid. */
  title?: string;
  /** S3 key of the picture the grid shows: the first image's first model view, else the image itself. */
  thumbnail?: string;
  /** task → margin and leading labels, for tasks the models decided (no human correction). */
  ranking?: Record<string, TaskRanking>;
  /** The facet counters this version of the product is counted in (see {@link facetMemberships}). */
  facets?: string[];
  /** Index item sort key → the product version at which that entry last changed. */
  listingVersions?: Record<string, number>;
  /** The catalog statistics' counters this version is counted in (catalogStats.ts, `statsMemberships`). */
  stats?: string[];
  /** `PRODUCTS#{vendor}` / `{productId}` while the product has a live source (sparse). */
  gsi1pk?: string;
  gsi1sk?: string;
}

export type ListedProductItem = ProductItem & ListingFields;

export const TITLE_MAX_CHARS = 200;

/** GSI partitions of the listing; upper case like CORRECTION and REJECTION, so no task (lower case) collides. */
export const productsGsiPk = (vendor: string): string => `PRODUCTS#${vendor}`;
export const statusGsiPk = (status: ProductStatus): string => `STATUS#${status}`;
export const abstainedGsiPk = (task: string): string => `ABSTAINED#${task}`;
export const confidenceGsiPk = (task: string): string => `CONFIDENCE#${task}`;
export const reviewGsiPk = (task: string, vendor?: string): string => (vendor === undefined ? `REVIEW#${task}` : `REVIEW#${task}#${vendor}`);

/** Sort keys of the index items in a product's partition. */
export const INDEX_SK_PREFIX = 'IDX#';
export const statusSk = (): string => `${INDEX_SK_PREFIX}status`;
export const abstainedSk = (task: string): string => `${INDEX_SK_PREFIX}abstained#${task}`;
export const confidenceSk = (task: string): string => `${INDEX_SK_PREFIX}confidence#${task}`;
export const reviewSk = (task: string): string => `${INDEX_SK_PREFIX}review#${task}`;
export const vendorReviewSk = (task: string): string => `${INDEX_SK_PREFIX}review-vendor#${task}`;

/**
 * Scores in sort keys are cut to hundredths, `000` to `100`: an index entry moves only when its
 * bucket does, not with every third decimal of a new source. Queries that need more precision
 * filter on the product item's current value.
 */
export const BUCKETS = 100;
export const bucketKey = (score: number): string => String(Math.min(BUCKETS, Math.max(0, Math.floor(score * BUCKETS)))).padStart(3, '0');

/** Histogram bins of the per-task confidence counters: tenths, the last one including 1. */
export const HISTOGRAM_BINS = 10;
export const histogramBin = (confidence: number): number => Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor(confidence * HISTOGRAM_BINS)));

/** error if any live source failed for good, pending if any waits, else tagged. */
export const productStatus = (live: readonly SourceItem[]): ProductStatus =>
  live.some((s) => s.status === 'error') ? 'error' : live.some((s) => s.status === 'pending') ? 'pending' : 'tagged';

/** The vendor's title from the stored product.json, if it has a usable one. */
export const titleOf = (live: readonly SourceItem[]): string | undefined => {
  const document = live.find((s) => s.kind === 'text' && s.document !== undefined)?.document;
  if (document === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    return undefined;
  }
  const title = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? own(parsed as Record<string, unknown>, 'title') : undefined;
  if (typeof title !== 'string') return undefined;
  const trimmed = title.replace(/\s+/g, ' ').trim();
  if (trimmed.length === 0) return undefined;
  return trimmed.length > TITLE_MAX_CHARS ? `${trimmed.slice(0, TITLE_MAX_CHARS - 1)}…` : trimmed;
};

/** Legacy images (tagged before views were declared) have the two-view contract's views. */
const LEGACY_FIRST_VIEW = 'downsampled';

/** The first image (by key) that has one: its first model view when tagged, else the upload itself. */
export const thumbnailOf = (live: readonly SourceItem[], derivedViewKey: (key: string, view: string) => string): string | undefined => {
  const images = live.filter((s) => s.kind === 'image' && s.key !== undefined).sort((a, b) => (a.key! < b.key! ? -1 : a.key! > b.key! ? 1 : 0));
  const first = images.find((s) => s.status === 'tagged') ?? images[0];
  if (!first) return undefined;
  if (first.status !== 'tagged') return first.key;
  return derivedViewKey(first.key!, first.views?.[0] ?? LEGACY_FIRST_VIEW);
};

const isHuman = (attribute: Attributes[string]): boolean => own(attribute.sources, 'human')?.weight === 1;

/** Whether a merchandiser set this task (the human source decides it). */
export const correctedByHuman = (attribute: Attributes[string] | undefined): boolean => attribute !== undefined && isHuman(attribute);

/**
 * The facet counters a product counts in, one string per counter:
 *   `vendor#{vendor}`, `status#{status}`,
 *   `value#{task}#{label}` or `abstained#{task}` per task with a merged attribute,
 *   `confidence#{task}#{bin}` per task the models decided (histogram of tenths; human corrections are not model confidence).
 * None while the product has no live source.
 */
export const facetMemberships = (product: Pick<ListedProductItem, 'vendor' | 'attributes' | 'status'>): string[] => {
  if (product.status === undefined) return [];
  const out = [`vendor#${product.vendor}`, `status#${product.status}`];
  for (const [task, attribute] of Object.entries(product.attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    out.push(attribute.value === null ? `abstained#${task}` : `value#${task}#${attribute.value}`);
    if (!isHuman(attribute)) out.push(`confidence#${task}#${histogramBin(attribute.confidence)}`);
  }
  return out;
};

/** An index entry: where the item sits in the GSI; `undefined` = out of the index (the item keeps its version). */
export interface IndexEntry {
  gsi1pk: string;
  gsi1sk: string;
  /** What queries read besides the keys. */
  fields: Record<string, string | number>;
}

/**
 * Every index entry the product should have, by sort key. A task without a merged attribute, or
 * decided by a human, is out of the confidence and review indexes; only abstained tasks are in
 * their task's abstained index.
 */
export const indexEntries = (product: Pick<ListedProductItem, 'vendor' | 'productId' | 'attributes' | 'status' | 'ranking'>): Map<string, IndexEntry | undefined> => {
  const { vendor, productId } = product;
  const entries = new Map<string, IndexEntry | undefined>();
  const listed = product.status !== undefined;
  entries.set(statusSk(), listed ? { gsi1pk: statusGsiPk(product.status!), gsi1sk: `${vendor}#${productId}`, fields: { status: product.status! } } : undefined);
  for (const [task, attribute] of Object.entries(product.attributes)) {
    const decided = listed && !isHuman(attribute);
    entries.set(abstainedSk(task), listed && attribute.value === null ? { gsi1pk: abstainedGsiPk(task), gsi1sk: `${vendor}#${productId}`, fields: { task } } : undefined);
    entries.set(
      confidenceSk(task),
      decided ? { gsi1pk: confidenceGsiPk(task), gsi1sk: `${bucketKey(attribute.confidence)}#${vendor}#${productId}`, fields: { task } } : undefined,
    );
    const margin = own(product.ranking ?? {}, task)?.margin;
    const inQueue = decided && margin !== undefined;
    entries.set(reviewSk(task), inQueue ? { gsi1pk: reviewGsiPk(task), gsi1sk: `${bucketKey(margin)}#${vendor}#${productId}`, fields: { task } } : undefined);
    entries.set(vendorReviewSk(task), inQueue ? { gsi1pk: reviewGsiPk(task, vendor), gsi1sk: `${bucketKey(margin)}#${productId}`, fields: { task } } : undefined);
  }
  return entries;
};

export const sameEntry = (a: IndexEntry | undefined, b: IndexEntry | undefined): boolean => a?.gsi1pk === b?.gsi1pk && a?.gsi1sk === b?.gsi1sk;

/** Counter deltas between two versions of a product: +1 for memberships gained, −1 for those lost. */
export const facetDeltas = (before: readonly string[], after: readonly string[]): Map<string, number> => {
  const deltas = new Map<string, number>();
  for (const m of before) deltas.set(m, (deltas.get(m) ?? 0) - 1);
  for (const m of after) deltas.set(m, (deltas.get(m) ?? 0) + 1);
  for (const [m, d] of deltas) if (d === 0) deltas.delete(m);
  return deltas;
};

/** The listing fields a merge computes from the live sources (all absent once none is left). */
export const listingContent = (
  vendor: string,
  productId: string,
  live: readonly SourceItem[],
  ranking: Record<string, TaskRanking>,
  derivedViewKey: (key: string, view: string) => string,
): Pick<ListingFields, 'status' | 'title' | 'thumbnail' | 'ranking' | 'gsi1pk' | 'gsi1sk'> => {
  if (live.length === 0) return {};
  return {
    status: productStatus(live),
    title: titleOf(live),
    thumbnail: thumbnailOf(live, derivedViewKey),
    ranking,
    gsi1pk: productsGsiPk(vendor),
    gsi1sk: productId,
  };
};

/** The same fields of a stored product item, to tell whether a merge changes any of them. */
export const listingContentOf = (product: ListedProductItem): Pick<ListingFields, 'status' | 'title' | 'thumbnail' | 'ranking' | 'gsi1pk' | 'gsi1sk'> => ({
  status: product.status,
  title: product.title,
  thumbnail: product.thumbnail,
  ranking: product.ranking,
  gsi1pk: product.gsi1pk,
  gsi1sk: product.gsi1sk,
});
