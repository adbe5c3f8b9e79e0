/**
 * Writes of the listing's index items and facet counters, after the merge wrote a product item.
 * Same concurrency rules as the attribute index (README.md, "Writes and concurrency"):
 *
 *   - index items (`IDX#…` in the product's partition) carry the product version they reflect
 *     and are written only with a higher one; the product item records, per item, the version at
 *     which its entry last changed (`listingVersions`), so a merge knows which items are behind
 *     even when an item happens to look current while an older merge's write is still in flight;
 *     an entry that leaves the index keeps its item (without GSI keys) and so its version;
 *   - facet counters move by the difference between the memberships of the product item the
 *     merge replaced and those of the one it wrote. The product write is guarded by `version`, so
 *     exactly one merge moves the counters for each change; each ADD is sent at most once (an ADD
 *     sent twice counts twice), so a lost reply or a crash between the product write and an ADD
 *     leaves that counter off by one, never drifting further on redelivery. The catalog
 *     statistics' counters (catalogStats.ts, `STATS#{n}`) move the same way, by the difference of
 *     the product items' `stats` memberships.
 */
import { channel } from 'node:diagnostics_channel';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CatalogStats } from './catalogStats.js';
import { productPk } from './keys.js';
import { facetDeltas, facetMemberships, indexEntries, INDEX_SK_PREFIX, sameEntry, type IndexEntry, type ListedProductItem } from './listing.js';
import { COUNTER_SHARDS, counterShard, ShardedCounters } from './shardedCounters.js';
import { buildUpdate, isConditionalCheckFailed, withCondition } from './updateExpression.js';

/** An index item of the listing, as stored. */
export interface ListingIndexItem {
  pk: string;
  sk: string;
  type: 'index';
  vendor: string;
  productId: string;
  version: number;
  task?: string;
  status?: string;
  gsi1pk?: string;
  gsi1sk?: string;
}

/** The facet counters' shards: {@link COUNTER_SHARDS} partitions `FACETS#0` …, a product counting in the one of its key. */
export const FACET_SHARDS = COUNTER_SHARDS;
export const facetPk = (shard: number): string => `FACETS#${shard}`;

/** FNV-1a of the product's key, so a product's counters always live in one shard. */
export const facetShard = counterShard;

/** Published when a counter ADD failed after the product was written: that counter is now off by the delta. */
export const facetCounterLost = channel('weft:products:facetCounterLost');

export const isListingIndexItem = (item: { sk: string }): boolean => item.sk.startsWith(INDEX_SK_PREFIX);

/** Sort key → the version at which that entry last changed; items written before the field existed count as the product's version. */
const currentVersions = (product: ListedProductItem, items: readonly ListingIndexItem[]): Record<string, number> => {
  const sks = new Set([...indexEntries(product).keys(), ...items.map((i) => i.sk)]);
  return Object.fromEntries([...sks].map((sk) => [sk, product.listingVersions?.[sk] ?? product.version]));
};

export class CatalogIndex {
  /** The facet counters (`FACETS#{n}`). */
  readonly facetCounters: ShardedCounters;
  /** The catalog statistics' counters (`STATS#{n}`, catalogStats.ts), moved by the same merges. */
  readonly stats: CatalogStats;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    this.facetCounters = new ShardedCounters(client, tableName, facetPk, facetCounterLost);
    this.stats = new CatalogStats(client, tableName);
  }

  /** Fields the product item gets for a new version: its counted memberships and the entries' versions. */
  nextFields(previous: ListedProductItem | undefined, next: Omit<ListedProductItem, 'facets' | 'listingVersions'>, items: readonly ListingIndexItem[]): Pick<ListedProductItem, 'facets' | 'listingVersions'> {
    const wanted = indexEntries(next);
    const before = previous ? indexEntries(previous) : new Map<string, IndexEntry | undefined>();
    const versionsBefore = previous ? currentVersions(previous, items) : {};
    const sks = new Set([...wanted.keys(), ...items.map((i) => i.sk), ...Object.keys(versionsBefore)]);
    const listingVersions = Object.fromEntries(
      [...sks].map((sk) => [sk, previous && versionsBefore[sk] !== undefined && sameEntry(before.get(sk), wanted.get(sk)) ? versionsBefore[sk] : next.version]),
    );
    return { facets: facetMemberships(next), listingVersions };
  }

  /** Whether an index item is older than the version its entry last changed at, or missing while it has an entry. */
  isBehind(product: ListedProductItem, items: readonly ListingIndexItem[]): boolean {
    return this.behind(product, items).length > 0;
  }

  private behind(product: ListedProductItem, items: readonly ListingIndexItem[]): { sk: string; entry: IndexEntry | undefined; version: number }[] {
    const wanted = indexEntries(product);
    const versions = currentVersions(product, items);
    const bySk = new Map(items.map((i) => [i.sk, i]));
    return Object.entries(versions).flatMap(([sk, version]) => {
      const item = bySk.get(sk);
      const entry = wanted.get(sk);
      const stale = item === undefined ? entry !== undefined : item.version < version;
      return stale ? [{ sk, entry, version }] : [];
    });
  }

  /** Writes the index items that are behind the product item, each guarded by its version. */
  async writeEntries(product: ListedProductItem, items: readonly ListingIndexItem[]): Promise<void> {
    const pk = productPk(product.vendor, product.productId);
    await Promise.all(
      this.behind(product, items).map(async ({ sk, entry, version }) => {
        const fields = { type: 'index', vendor: product.vendor, productId: product.productId, version, ...(entry?.fields ?? {}) };
        const update = entry ? buildUpdate({ ...fields, gsi1pk: entry.gsi1pk, gsi1sk: entry.gsi1sk }) : buildUpdate(fields, ['gsi1pk', 'gsi1sk']);
        try {
          await this.client.send(
            new UpdateCommand({
              TableName: this.tableName,
              Key: { pk, sk },
              ...withCondition(update, 'attribute_not_exists(#cversion) OR #cversion < :cversion', { '#cversion': 'version' }, { ':cversion': version }),
            }),
          );
        } catch (error) {
          // A newer merge wrote the entry first: its version wins.
          if (!isConditionalCheckFailed(error)) throw error;
        }
      }),
    );
  }

  /**
   * Moves the facet counters from `previous`'s memberships to `next`'s. A product item written
   * before memberships were recorded counted nowhere, so it only adds. Failures are published on
   * {@link facetCounterLost} and otherwise ignored: the product is written, and counts are
   * approximate by design (README.md, "Facet counters").
   */
  async count(previous: ListedProductItem | undefined, next: ListedProductItem): Promise<void> {
    await this.facetCounters.add(next.vendor, next.productId, facetDeltas(previous?.facets ?? [], next.facets ?? []));
  }

  /** Every counter: membership → count, summed over the shards (one Query each). */
  async readCounters(): Promise<Map<string, number>> {
    return this.facetCounters.readTotals();
  }

  /**
   * Every counter item, per shard: shard → membership → count (one Query per shard, paged).
   * `consistent` reads them strongly consistent (the recount compares them with the listing).
   */
  async readShardCounters(options: { consistent?: boolean } = {}): Promise<Map<number, Map<string, number>>> {
    return this.facetCounters.readShards(options);
  }

  /**
   * Moves one shard's counter by `delta`, only if it still holds `seen` (`undefined`: the item or
   * its count does not exist); see {@link ShardedCounters.adjust}. Returns whether the condition held.
   */
  async adjustCounter(shard: number, membership: string, seen: number | undefined, delta: number): Promise<boolean> {
    return this.facetCounters.adjust(shard, membership, seen, delta);
  }

  /** One shard's counter, strongly consistent (`undefined` when it has no item). */
  async readCounter(shard: number, membership: string): Promise<number | undefined> {
    return this.facetCounters.read(shard, membership);
  }
}
