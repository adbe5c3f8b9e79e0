/**
 * The catalog's staleness view (`GET /stats`, `weft stats`): products per status, per model
 * version of each modality and per vendor, kept by sharded counters that the merge moves exactly
 * as it moves the listing's facet counters — by the difference between the memberships of the
 * product item it replaced and those of the one it wrote (`stats` on the product item), one `ADD`
 * per membership gained or lost, each sent at most once. Reading them is eight Queries; nothing
 * scans. Item design: README.md in this folder, "Catalog statistics".
 *
 * Products are counted, not sources. Per modality (image, text) a product is on a version when
 * every tagged source of that modality records it as its `modelVersion` (`{model name}@{version}`,
 * written with the source's predictions by the ingest); one whose tagged sources record more than
 * one version is `mixed`; one with no tagged source of the modality (none uploaded, or all
 * pending or failed) is counted in neither and shows as `none`. So each product counts exactly
 * once per modality, and "stale" — on another version than the deployed manifest's, mixed ones
 * included — is exact however many versions the catalog holds. What is deployed is not counted
 * (it changes without any product changing): the reader compares.
 */
import { channel } from 'node:diagnostics_channel';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { setOwn } from '../ownKeys.js';
import { PRODUCT_STATUSES } from './catalogQueries.js';
import type { SourceItem } from './items.js';
import { productStatus, type ListedProductItem, type ProductStatus } from './listing.js';
import { counterDeltas, ShardedCounters } from './shardedCounters.js';

/** The statistics' shards, `STATS#0` … `STATS#7`, a product counting in the shard of its key (as for `FACETS#…`). */
export const statsPk = (shard: number): string => `STATS#${shard}`;

/** Published when a statistics ADD failed after the product was written: that counter is off by the delta until `weft recount`. */
export const statsCounterLost = channel('weft:products:statsCounterLost');

/** The source kinds whose items record the model version that produced them. */
export const MODEL_MODALITIES = ['image', 'text'] as const;
export type ModelModality = (typeof MODEL_MODALITIES)[number];

/** What the statistics know of a product: its status and, per modality, the distinct versions of its tagged sources. */
export interface StatsState {
  /** Absent while the product has no live source: then it counts nowhere. */
  status?: ProductStatus;
  /** modality → the versions its tagged sources record, sorted, without repeats; absent when none does. */
  versions: Partial<Record<ModelModality, string[]>>;
}

const sorted = (values: Iterable<string>): string[] => [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** A product's statistics state from its live sources (the same ones the merge combines). */
export const statsState = (live: readonly SourceItem[]): StatsState => {
  if (live.length === 0) return { versions: {} };
  const versions: StatsState['versions'] = {};
  for (const modality of MODEL_MODALITIES) {
    const recorded = sorted(live.flatMap((s) => (s.kind === modality && s.status === 'tagged' && s.modelVersion ? [s.modelVersion] : [])));
    if (recorded.length > 0) versions[modality] = recorded;
  }
  return { status: productStatus(live), versions };
};

/** Sort keys of the counter items: the vendor first, so one vendor's counters are a `begins_with` away. */
export const statusStatSk = (vendor: string, status: ProductStatus): string => `${vendor}#status#${status}`;
export const versionStatSk = (vendor: string, modality: ModelModality, version: string): string => `${vendor}#model#${modality}#${version}`;
export const mixedStatSk = (vendor: string, modality: ModelModality): string => `${vendor}#mixed#${modality}`;

export type StatMembership =
  | { vendor: string; kind: 'status'; status: ProductStatus }
  | { vendor: string; kind: 'model'; modality: ModelModality; version: string }
  | { vendor: string; kind: 'mixed'; modality: ModelModality };

/**
 * A counter's sort key split back: vendor ids and modalities cannot contain `#`, and the version
 * is the rest whatever it holds. `undefined` for a key this code did not write.
 */
export const parseStatSk = (sk: string): StatMembership | undefined => {
  const [vendor = '', kind, first, ...rest] = sk.split('#');
  if (vendor === '' || first === undefined) return undefined;
  if (kind === 'status' && rest.length === 0 && (PRODUCT_STATUSES as readonly string[]).includes(first)) return { vendor, kind, status: first as ProductStatus };
  if (!(MODEL_MODALITIES as readonly string[]).includes(first)) return undefined;
  const modality = first as ModelModality;
  if (kind === 'model' && rest.length > 0) return { vendor, kind, modality, version: rest.join('#') };
  if (kind === 'mixed' && rest.length === 0) return { vendor, kind, modality };
  return undefined;
};

/**
 * The counters a product counts in: `{vendor}#status#{status}` and per modality with a recorded
 * version either `{vendor}#model#{modality}#{version}` (one version) or `{vendor}#mixed#{modality}`
 * (several). Sorted; none while the product has no live source. The vendor's product count is the
 * sum of its status counters (every listed product has exactly one status).
 */
export const statsMemberships = (vendor: string, state: StatsState): string[] => {
  if (state.status === undefined) return [];
  const out = [statusStatSk(vendor, state.status)];
  for (const modality of MODEL_MODALITIES) {
    const versions = state.versions[modality];
    if (versions === undefined || versions.length === 0) continue;
    out.push(versions.length === 1 ? versionStatSk(vendor, modality, versions[0]!) : mixedStatSk(vendor, modality));
  }
  return sorted(out);
};

/**
 * The ADDs a merge sends: the previous product item's memberships (`undefined` for an item written
 * before the statistics existed, which counted nowhere) against the new one's; +1 gained, −1 lost.
 */
export const statsAdds = (before: readonly string[] | undefined, after: readonly string[]): Map<string, number> => counterDeltas(before ?? [], after);

/** One modality's products by the model version that produced their predictions. */
export interface ModelVersionCounts {
  /** The version the deployed manifest has (absent when this deployment has no model of the modality). */
  deployed?: string;
  /** version → products whose every tagged source of the modality that version produced (versions without products left out). */
  versions: Record<string, number>;
  /** Products whose tagged sources of the modality were produced by more than one version. */
  mixed: number;
  /** Products on another version than `deployed` (all of them when nothing is deployed), mixed ones included. */
  stale: number;
  /** Products with no tagged source of the modality: none uploaded, or every one pending or failed. */
  none: number;
}

/** What `GET /stats` answers: counts of the listed products (those with a live source). */
export interface CatalogStatsView {
  /** The vendor the counts are restricted to, when one was asked for. */
  vendor?: string;
  products: number;
  /** Products per status (statuses without products left out). */
  status: Partial<Record<ProductStatus, number>>;
  models: Record<ModelModality, ModelVersionCounts>;
  /** Products per vendor (vendors without products left out). */
  vendors: Record<string, number>;
}

/**
 * The view from the counters summed over the shards (sort key → count) and the deployed model
 * versions (`{image, text}`, as `/tasks` reports them). A counter below zero (only a lost update can
 * take it there) counts as 0; keys of other vendors than `vendor`, when given, are left out.
 */
export const summarizeStats = (totals: ReadonlyMap<string, number>, deployed: Readonly<Partial<Record<string, string>>>, vendor?: string): CatalogStatsView => {
  const status: CatalogStatsView['status'] = {};
  const vendors: Record<string, number> = {};
  const versions = new Map<ModelModality, Map<string, number>>(MODEL_MODALITIES.map((m) => [m, new Map()]));
  const mixed = new Map<ModelModality, number>(MODEL_MODALITIES.map((m) => [m, 0]));
  let products = 0;
  for (const [sk, raw] of totals) {
    const count = Math.max(0, raw);
    const membership = parseStatSk(sk);
    if (count === 0 || membership === undefined || (vendor !== undefined && membership.vendor !== vendor)) continue;
    if (membership.kind === 'status') {
      products += count;
      status[membership.status] = (status[membership.status] ?? 0) + count;
      setOwn(vendors, membership.vendor, (Object.hasOwn(vendors, membership.vendor) ? vendors[membership.vendor]! : 0) + count);
    } else if (membership.kind === 'model') {
      const byVersion = versions.get(membership.modality)!;
      byVersion.set(membership.version, (byVersion.get(membership.version) ?? 0) + count);
    } else mixed.set(membership.modality, mixed.get(membership.modality)! + count);
  }
  const models = Object.fromEntries(
    MODEL_MODALITIES.map((modality): [ModelModality, ModelVersionCounts] => {
      const current = Object.hasOwn(deployed, modality) ? deployed[modality] : undefined;
      const byVersion = [...versions.get(modality)!].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const onVersion = byVersion.reduce((sum, [, n]) => sum + n, 0);
      const onDeployed = byVersion.find(([v]) => v === current)?.[1] ?? 0;
      const mixedCount = mixed.get(modality)!;
      const out: ModelVersionCounts = {
        ...(current !== undefined ? { deployed: current } : {}),
        versions: {},
        mixed: mixedCount,
        stale: onVersion - onDeployed + mixedCount,
        none: Math.max(0, products - onVersion - mixedCount),
      };
      for (const [version, n] of byVersion) setOwn(out.versions, version, n);
      return [modality, out];
    }),
  ) as Record<ModelModality, ModelVersionCounts>;
  return { ...(vendor !== undefined ? { vendor } : {}), products, status, models, vendors };
};

/** The statistics' counters: moved by the merge, read by `GET /stats`, recounted by `weft recount`. */
export class CatalogStats {
  readonly counters: ShardedCounters;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.counters = new ShardedCounters(client, tableName, statsPk, statsCounterLost);
  }

  /** Moves the counters from `previous`'s `stats` memberships to `next`'s (see {@link statsAdds}). */
  async count(previous: ListedProductItem | undefined, next: ListedProductItem): Promise<void> {
    await this.counters.add(next.vendor, next.productId, statsAdds(previous?.stats, next.stats ?? []));
  }

  /** The whole catalog's statistics, or one vendor's (its counters only: a `begins_with` on each shard). */
  async read(deployed: Readonly<Partial<Record<string, string>>>, vendor?: string): Promise<CatalogStatsView> {
    return summarizeStats(await this.counters.readTotals(vendor === undefined ? {} : { prefix: `${vendor}#` }), deployed, vendor);
  }
}
