/**
 * The merchandiser's reads: the filtered catalog listing with facet counts and the review queue.
 * Each page is one or a few Queries of the `byAttribute` index on one partition (never a Scan):
 *
 *   - the listing reads the partition of its most selective filter — an attribute value
 *     (`{task}#{value}`), an abstained task, a status or a task's confidence below a threshold —
 *     judged by the facet counters, else the vendor's products (`PRODUCTS#{vendor}`, and without
 *     a vendor one vendor after the other); the other filters are checked on the product items of
 *     the page (one BatchGetItem), which also drops entries the eventually consistent index still
 *     holds for products that moved on;
 *   - the review queue reads `REVIEW#{task}` (or `REVIEW#{task}#{vendor}`), lowest margin first.
 *
 * A page reads at most {@link MAX_ENTRIES_PER_PAGE} index entries in at most
 * {@link MAX_QUERIES_PER_PAGE} Queries, so a request stays fast however selective the later filters
 * are: a page can hold fewer than `limit` items (even none) and still have a `nextCursor`. Item
 * design: README.md in this folder.
 */
import { BatchGetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { own, setOwn } from '../ownKeys.js';
import type { CatalogIndex } from './catalogIndex.js';
import { attributeScope, decodeCursorIn, encodeCursor, productEntryScope, scoredEntryScope, vendorProductsScope, vendorScoredEntryScope, type CursorScope, type IndexStartKey } from './cursor.js';
import type { TaskCatalog, TaskRanking } from './ensemble.js';
import { CORRECTIONS_GSI_PK, PRODUCT_SK, attributeGsiPk } from './keys.js';
import type { CorrectionOutcome } from './calibration.js';
import {
  BUCKETS,
  HISTOGRAM_BINS,
  abstainedGsiPk,
  abstainedSk,
  confidenceGsiPk,
  confidenceSk,
  correctedByHuman,
  productsGsiPk,
  reviewGsiPk,
  reviewSk,
  statusGsiPk,
  statusSk,
  vendorReviewSk,
  type ListedProductItem,
  type ProductStatus,
} from './listing.js';
import type { Page } from './productStore.js';
import { ATTRIBUTE_INDEX } from './tableDefinition.js';

export const PRODUCT_STATUSES: readonly ProductStatus[] = ['pending', 'tagged', 'error'];

/** Corrections the accuracy curve is drawn from at most (the most recent ones). */
export const MAX_CALIBRATION_CORRECTIONS = 20_000;

/** Index entries one listing or review page reads at most (filters that drop most entries stop here). */
export const MAX_ENTRIES_PER_PAGE = 500;
/** Queries one page sends at most (vendor after vendor, some of them empty). */
export const MAX_QUERIES_PER_PAGE = 25;
/** Index items per Query when later filters drop some: fewer round trips for a full page. */
const FILTERED_QUERY_LIMIT = 100;

export interface ListingFilters {
  vendor?: string;
  /** All must hold: the merged value of each task is the label. */
  attributes?: { task: string; value: string }[];
  /** Tasks on which the ensemble abstains (`value: null`). */
  abstained?: string[];
  /** The models' confidence in the task is below the threshold (human-corrected tasks never are). */
  confidenceBelow?: { task: string; threshold: number };
  status?: ProductStatus;
}

export interface SummaryAttribute {
  value: string | null;
  confidence: number;
  /** Set by a merchandiser. */
  corrected: boolean;
}

/** A product as the grid shows it. */
export interface ProductSummary {
  vendor: string;
  productId: string;
  title?: string;
  status: ProductStatus;
  /** S3 key of the picture to show (see listing.ts, thumbnailOf). */
  thumbnail?: string;
  attributes: Record<string, SummaryAttribute>;
  updatedAt: string;
}

/**
 * Catalog-wide counts (not of the filtered result), from the facet counters: products per vendor,
 * per status, per merged value and abstained per task, and a histogram of the models'
 * confidence per task in tenths (bin 9 includes 1).
 */
export interface Facets {
  products: number;
  vendors: Record<string, number>;
  status: Partial<Record<ProductStatus, number>>;
  values: Record<string, Record<string, number>>;
  abstained: Record<string, number>;
  confidence: Record<string, number[]>;
}

export interface ProductListing extends Page<ProductSummary> {
  facets: Facets;
}

export interface ReviewItem {
  vendor: string;
  productId: string;
  title?: string;
  thumbnail?: string;
  task: string;
  /** The merged value (null when abstaining) and its confidence. */
  value: string | null;
  confidence: number;
  /** Best minus second-best probability: lower needs a person more. */
  margin: number;
  /** The leading labels of the combined distribution, most probable first. */
  candidates: TaskRanking['top'];
}

/** A partition to read, with its key condition and what its cursor may be. */
interface Partition {
  scope: CursorScope;
  condition: string;
  values: Record<string, string>;
  /** Sort keys (`gsi1sk`) the condition compares with, besides the partition. */
  usesSortKey: boolean;
}

const whole = (gsi1pk: string, scope: CursorScope): Partition => ({ scope, condition: '#pk = :pk', values: { ':pk': gsi1pk }, usesSortKey: false });
const withPrefix = (gsi1pk: string, scope: CursorScope, prefix: string | undefined): Partition =>
  prefix === undefined ? whole(gsi1pk, scope) : { scope, condition: '#pk = :pk AND begins_with(#sk, :prefix)', values: { ':pk': gsi1pk, ':prefix': prefix }, usesSortKey: true };

const PRODUCT_PROJECTION = ['pk', 'vendor', 'productId', 'title', 'status', 'thumbnail', 'attributes', 'ranking', 'updatedAt'];

export const emptyFacets = (): Facets => ({ products: 0, vendors: {}, status: {}, values: {}, abstained: {}, confidence: {} });

/** The smallest bucket key not below the threshold: entries with a lower key may be below it. */
const bucketBound = (threshold: number): string => String(Math.min(BUCKETS + 1, Math.ceil(threshold * BUCKETS))).padStart(3, '0');

export class CatalogQueries {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly catalog: TaskCatalog,
    private readonly index: CatalogIndex,
  ) {}

  /** The counters as facets; vendors with a counter (even at 0) are returned separately, in order, for paging across vendors. */
  async facets(): Promise<{ facets: Facets; knownVendors: string[] }> {
    const counters = await this.index.readCounters();
    const facets = emptyFacets();
    const knownVendors: string[] = [];
    for (const [membership, raw] of counters) {
      // A counter can only dip below zero by a lost update; it is never a negative count.
      const count = Math.max(0, raw);
      const [kind, first, ...rest] = membership.split('#');
      if (first === undefined) continue;
      if (kind === 'vendor') {
        knownVendors.push(first);
        if (count > 0) setOwn(facets.vendors, first, count);
        facets.products += count;
        continue;
      }
      if (count === 0) continue;
      if (kind === 'status') {
        if ((PRODUCT_STATUSES as readonly string[]).includes(first)) facets.status[first as ProductStatus] = count;
        continue;
      }
      // Counters of tasks or labels the loaded manifests no longer have are not facets.
      const labels = own(this.catalog, first);
      if (labels === undefined) continue;
      if (kind === 'value' && rest.length > 0) {
        const label = rest.join('#');
        if (!labels.includes(label)) continue;
        let values = own(facets.values, first);
        if (values === undefined) setOwn(facets.values, first, (values = {}));
        setOwn(values, label, count);
      } else if (kind === 'abstained') setOwn(facets.abstained, first, count);
      else if (kind === 'confidence') {
        const bin = Number(rest[0]);
        if (!Number.isInteger(bin) || bin < 0 || bin >= HISTOGRAM_BINS) continue;
        let bins = own(facets.confidence, first);
        if (bins === undefined) setOwn(facets.confidence, first, (bins = Array.from({ length: HISTOGRAM_BINS }, () => 0)));
        bins[bin] = count;
      }
    }
    knownVendors.sort();
    return { facets, knownVendors };
  }

  async listProducts(filters: ListingFilters, options: { limit: number; cursor?: string }): Promise<ProductListing> {
    const { facets, knownVendors } = await this.facets();
    const vendor = filters.vendor;
    const vendorPrefix = vendor === undefined ? undefined : `${vendor}#`;
    // Partitions a filter can be read from, with how many entries it holds (fewest first wins).
    const candidates: { partition: Partition; estimate: number }[] = [];
    for (const { task, value } of filters.attributes ?? []) {
      candidates.push({ partition: withPrefix(attributeGsiPk(task, value), attributeScope(task, value, vendor), vendorPrefix), estimate: facets.values[task]?.[value] ?? 0 });
    }
    for (const task of filters.abstained ?? []) {
      candidates.push({ partition: withPrefix(abstainedGsiPk(task), productEntryScope(abstainedGsiPk(task), abstainedSk(task), vendor), vendorPrefix), estimate: facets.abstained[task] ?? 0 });
    }
    if (filters.status !== undefined) {
      candidates.push({ partition: withPrefix(statusGsiPk(filters.status), productEntryScope(statusGsiPk(filters.status), statusSk(), vendor), vendorPrefix), estimate: facets.status[filters.status] ?? 0 });
    }
    if (filters.confidenceBelow !== undefined) {
      const { task, threshold } = filters.confidenceBelow;
      const bound = bucketBound(threshold);
      const bins = facets.confidence[task] ?? [];
      const estimate = bins.slice(0, Math.ceil(threshold * HISTOGRAM_BINS)).reduce((sum, n) => sum + n, 0);
      candidates.push({
        partition: { scope: scoredEntryScope(confidenceGsiPk(task), confidenceSk(task), bound), condition: '#pk = :pk AND #sk < :bound', values: { ':pk': confidenceGsiPk(task), ':bound': bound }, usesSortKey: true },
        estimate,
      });
    }
    // The first of the fewest: stable, so the same filters read the same partition.
    const chosen = candidates.reduce<(typeof candidates)[number] | undefined>((best, c) => (best === undefined || c.estimate < best.estimate ? c : best), undefined);
    const vendors = vendor !== undefined ? [vendor] : knownVendors;
    const partitions = chosen ? [chosen.partition] : vendors.map((v) => whole(productsGsiPk(v), vendorProductsScope(productsGsiPk(v), v)));
    // Whether the page's products are checked for more than the partition says: then read more per Query.
    const filtered = candidates.length > 1 || filters.confidenceBelow !== undefined;
    const keep = (product: ListedProductItem): boolean => matches(product, filters);
    const page = await this.readPages(partitions, options, { productItems: chosen === undefined, filtered }, keep);
    return { items: page.items.map(summary), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}), facets };
  }

  /** Products whose `task` the models decided with the lowest margin first, optionally of one vendor. */
  async reviewQueue(task: string, options: { vendor?: string; limit: number; cursor?: string }): Promise<Page<ReviewItem>> {
    const gsi1pk = reviewGsiPk(task, options.vendor);
    const scope = options.vendor === undefined ? scoredEntryScope(gsi1pk, reviewSk(task)) : vendorScoredEntryScope(gsi1pk, vendorReviewSk(task), options.vendor);
    const keep = (product: ListedProductItem): boolean => {
      const attribute = own(product.attributes, task);
      return product.status !== undefined && attribute !== undefined && !correctedByHuman(attribute) && own(product.ranking ?? {}, task) !== undefined;
    };
    const page = await this.readPages([whole(gsi1pk, scope)], options, { productItems: false, filtered: false }, keep);
    const items = page.items.map((product): ReviewItem => {
      const attribute = own(product.attributes, task)!;
      const ranking = own(product.ranking ?? {}, task)!;
      return {
        vendor: product.vendor,
        productId: product.productId,
        ...(product.title !== undefined ? { title: product.title } : {}),
        ...(product.thumbnail !== undefined ? { thumbnail: product.thumbnail } : {}),
        task,
        value: attribute.value,
        confidence: attribute.confidence,
        margin: ranking.margin,
        candidates: ranking.top,
      };
    });
    return { items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  /**
   * Every correction that recorded the models' answer, for the accuracy curve: Queries of the
   * `CORRECTION` partition (newest first), at most `max` corrections.
   */
  async correctionOutcomes(max = MAX_CALIBRATION_CORRECTIONS): Promise<CorrectionOutcome[]> {
    const out: CorrectionOutcome[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: ATTRIBUTE_INDEX,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': 'gsi1pk', '#task': 'task', '#value': 'value', '#model': 'model' },
          ExpressionAttributeValues: { ':pk': CORRECTIONS_GSI_PK },
          ProjectionExpression: '#task, #value, #model',
          ScanIndexForward: false,
          Limit: Math.min(1000, max - out.length),
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const model = item.model as { value?: unknown; confidence?: unknown } | undefined;
        if (typeof item.task !== 'string' || typeof item.value !== 'string' || typeof model?.value !== 'string' || typeof model.confidence !== 'number') continue;
        out.push({ task: item.task, value: item.value, model: { value: model.value, confidence: model.confidence } });
      }
      start = page.LastEvaluatedKey;
    } while (start && out.length < max);
    return out;
  }

  /**
   * Reads index pages of `partitions` in order (continuing at the cursor's), keeps the products
   * `keep` accepts (read from the product items unless the index items are product items), and
   * stops at `limit` products or at the read budget.
   */
  private async readPages(
    partitions: readonly Partition[],
    options: { limit: number; cursor?: string },
    how: { productItems: boolean; filtered: boolean },
    keep: (product: ListedProductItem) => boolean,
  ): Promise<{ items: ListedProductItem[]; nextCursor?: string }> {
    const resumed = decodeCursorIn(options.cursor, partitions.map((p) => p.scope));
    let at = resumed ? partitions.findIndex((p) => p.scope === resumed.scope) : 0;
    let start: IndexStartKey | Record<string, unknown> | undefined = resumed?.key;
    const items: ListedProductItem[] = [];
    let last: Record<string, unknown> | undefined;
    let read = 0;
    for (let queries = 0; at < partitions.length && queries < MAX_QUERIES_PER_PAGE && read < MAX_ENTRIES_PER_PAGE; queries += 1) {
      const partition = partitions[at]!;
      const wanted = options.limit - items.length;
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: ATTRIBUTE_INDEX,
          KeyConditionExpression: partition.condition,
          ExpressionAttributeNames: partition.usesSortKey ? { '#pk': 'gsi1pk', '#sk': 'gsi1sk' } : { '#pk': 'gsi1pk' },
          ExpressionAttributeValues: partition.values,
          Limit: how.filtered ? Math.max(wanted, FILTERED_QUERY_LIMIT) : wanted,
          ExclusiveStartKey: start,
        }),
      );
      const entries = page.Items ?? [];
      read += entries.length;
      const products = how.productItems ? new Map(entries.map((e) => [String(e.pk), e as ListedProductItem])) : await this.productItems(entries);
      for (const [i, entry] of entries.entries()) {
        last = { pk: entry.pk, sk: entry.sk, gsi1pk: entry.gsi1pk, gsi1sk: entry.gsi1sk };
        const product = products.get(String(entry.pk));
        if (product !== undefined && keep(product)) items.push(product);
        if (items.length === options.limit) {
          // Full: continue after this entry, unless it was the very last one there is.
          const more = i < entries.length - 1 || page.LastEvaluatedKey !== undefined || at < partitions.length - 1;
          return { items, ...(more ? { nextCursor: encodeCursor(last) } : {}) };
        }
      }
      start = page.LastEvaluatedKey;
      if (start === undefined) {
        at += 1;
        // The next partition starts at its beginning; a cursor taken now points at the last entry read.
      } else last = start;
    }
    if (at >= partitions.length) return { items };
    return { items, ...(last ? { nextCursor: encodeCursor(last) } : {}) };
  }

  /** The listing fields of the products behind index entries (BatchGetItem, 100 keys a request). */
  private async productItems(entries: readonly Record<string, unknown>[]): Promise<Map<string, ListedProductItem>> {
    const keys = [...new Set(entries.map((e) => String(e.pk)))].map((pk) => ({ pk, sk: PRODUCT_SK }));
    const found = new Map<string, ListedProductItem>();
    const names = Object.fromEntries(PRODUCT_PROJECTION.map((field, i) => [`#f${i}`, field]));
    for (let offset = 0; offset < keys.length; offset += 100) {
      let pending: Record<string, unknown>[] = keys.slice(offset, offset + 100);
      for (let attempt = 0; pending.length > 0 && attempt < 6; attempt += 1) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
        const result = await this.client.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ProjectionExpression: Object.keys(names).join(', '), ExpressionAttributeNames: names } } }),
        );
        for (const item of result.Responses?.[this.tableName] ?? []) found.set(String(item.pk), item as ListedProductItem);
        pending = result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return found;
  }
}

/** Whether a product item (as currently stored) meets every filter. */
export const matches = (product: Pick<ListedProductItem, 'vendor' | 'status' | 'attributes'>, filters: ListingFilters): boolean => {
  if (product.status === undefined) return false;
  if (filters.vendor !== undefined && product.vendor !== filters.vendor) return false;
  if (filters.status !== undefined && product.status !== filters.status) return false;
  for (const { task, value } of filters.attributes ?? []) if (own(product.attributes, task)?.value !== value) return false;
  for (const task of filters.abstained ?? []) {
    const attribute = own(product.attributes, task);
    if (attribute === undefined || attribute.value !== null) return false;
  }
  if (filters.confidenceBelow !== undefined) {
    const attribute = own(product.attributes, filters.confidenceBelow.task);
    if (attribute === undefined || correctedByHuman(attribute) || !(attribute.confidence < filters.confidenceBelow.threshold)) return false;
  }
  return true;
};

const summary = (product: ListedProductItem): ProductSummary => ({
  vendor: product.vendor,
  productId: product.productId,
  ...(product.title !== undefined ? { title: product.title } : {}),
  status: product.status!,
  ...(product.thumbnail !== undefined ? { thumbnail: product.thumbnail } : {}),
  attributes: Object.fromEntries(
    Object.entries(product.attributes).map(([task, a]) => [task, { value: a.value, confidence: a.confidence, corrected: correctedByHuman(a) }]),
  ),
  updatedAt: product.updatedAt,
});
