/**
 * The facet counters recounted from the listing. A merge moves the counters by the memberships its
 * product write gained and lost, each ADD sent at most once, so a crash between the product write
 * and the ADDs (or a lost reply) leaves a counter off by one until that product changes again
 * (README.md, "Facet counters"). The recount puts them right:
 *
 *   1. reads every counter item, per shard (eight strongly consistent Queries), and every listed
 *      product item with the memberships it is counted in (`facets`): the product items are in the
 *      `byAttribute` index under `PRODUCTS#{vendor}`, one Query (paged) per vendor; the vendors
 *      are those with a counter item plus those of the `STATUS#…` partitions, found by a skip
 *      scan (one `Limit: 1` Query per vendor and status), so a vendor whose every ADD was lost is
 *      found too. Only Queries, no Scan;
 *   2. counts per shard what the product items say (each product counts in the shard of its key,
 *      as the merge counts it) and compares with the stored counts ({@link counterDifferences}, pure);
 *   3. when something differs, waits `settleMs` and does both reads again; only a difference seen
 *      unchanged by both reads — the same stored count and the same counted one — is corrected,
 *      by one conditional ADD of the difference to that shard's counter (`count = :seen`).
 *
 * Why the difference, sharded as the merge writes it, and not a rewrite of the counter items:
 * live merges keep ADDing to the same items. A Put of the counted value would erase every ADD that
 * landed between the read and the Put; an ADD conditioned on the value read either applies to
 * exactly the count it was computed from or does nothing (a concurrent ADD won, or an SDK retry of
 * a correction that was applied), so it can never make a counter worse than it was. The second
 * read keeps off what is only in flight: a merge whose product item is read but whose ADD has not
 * landed yet (or whose item the eventually consistent index does not show yet) looks like drift
 * once, and is gone (or has moved) a moment later. Such differences are reported as moving and left
 * alone; a run at a quiet moment corrects everything and a second run finds nothing. What the
 * settle interval cannot tell apart is an ADD delayed longer than it (the SDK's throttling retries
 * take a few seconds at most), hence its default of ten seconds.
 *
 * The catalog statistics' counters (`STATS#{n}`, catalogStats.ts) are recounted in the same pass
 * and the same way: the truth is each listed product item's `stats` memberships, read by the same
 * Queries (one more attribute in the projection), compared per shard, corrected by conditional
 * ADDs of the difference only where both reads agree.
 */
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { FACET_SHARDS, facetShard, type CatalogIndex } from './catalogIndex.js';
import { PRODUCT_STATUSES } from './catalogQueries.js';
import { parseStatSk } from './catalogStats.js';
import { productsGsiPk, statusGsiPk, type ListedProductItem } from './listing.js';
import type { ShardedCounters } from './shardedCounters.js';
import { ATTRIBUTE_INDEX } from './tableDefinition.js';

/** shard → membership → count. */
export type ShardCounts = Map<number, Map<string, number>>;

/** What the recount reads of a product item. */
export type CountedProduct = Pick<ListedProductItem, 'vendor' | 'productId' | 'status' | 'facets' | 'stats'>;

/** The product item field that lists the memberships of a set of counters: the facets (`FACETS#…`) or the statistics (`STATS#…`). */
export type CounterField = 'facets' | 'stats';

/** One shard's counter that does not hold what the product items say. */
export interface CounterDifference {
  shard: number;
  membership: string;
  /** The stored count; `undefined` when the shard has no item for the membership. */
  stored: number | undefined;
  counted: number;
}

/** A facet as the console shows it, with the catalog-wide totals (summed over the shards). */
export interface FacetFix {
  membership: string;
  facet: string;
  value: string;
  stored: number;
  counted: number;
}

/** Adds a product's memberships (of `field`) to the counts of its shard; a product without live sources counts nowhere. */
export const countProduct = (counts: ShardCounts, product: CountedProduct, field: CounterField = 'facets'): void => {
  if (product.status === undefined) return;
  const shard = facetShard(product.vendor, product.productId);
  let counters = counts.get(shard);
  if (counters === undefined) counts.set(shard, (counters = new Map()));
  for (const membership of product[field] ?? []) counters.set(membership, (counters.get(membership) ?? 0) + 1);
};

/** The counts the product items say, per shard. */
export const countMemberships = (products: Iterable<CountedProduct>, field: CounterField = 'facets'): ShardCounts => {
  const counts: ShardCounts = new Map();
  for (const product of products) countProduct(counts, product, field);
  return counts;
};

/**
 * Every shard counter whose stored count differs from the counted one (a missing item counts as 0;
 * an item at 0 nobody counts in is right as it is), ordered by membership, then shard.
 */
export const counterDifferences = (stored: ShardCounts, counted: ShardCounts): CounterDifference[] => {
  const out: CounterDifference[] = [];
  for (let shard = 0; shard < FACET_SHARDS; shard += 1) {
    const have = stored.get(shard) ?? new Map<string, number>();
    const want = counted.get(shard) ?? new Map<string, number>();
    for (const membership of new Set([...have.keys(), ...want.keys()])) {
      const storedCount = have.get(membership);
      const countedCount = want.get(membership) ?? 0;
      if ((storedCount ?? 0) !== countedCount) out.push({ shard, membership, stored: storedCount, counted: countedCount });
    }
  }
  return out.sort((a, b) => (a.membership < b.membership ? -1 : a.membership > b.membership ? 1 : a.shard - b.shard));
};

const differenceKey = (d: Pick<CounterDifference, 'shard' | 'membership'>): string => `${d.shard}\u0000${d.membership}`;

/**
 * Differences of two reads: `stable` are those the second read saw exactly as the first (same
 * stored and counted count), to be corrected; `moving` the second read's others (something changed
 * in between: a merge in flight, the index catching up), left alone. A difference only the first
 * read saw has gone by itself.
 */
export const confirmDifferences = (first: readonly CounterDifference[], second: readonly CounterDifference[]): { stable: CounterDifference[]; moving: CounterDifference[] } => {
  const earlier = new Map(first.map((d) => [differenceKey(d), d]));
  const stable: CounterDifference[] = [];
  const moving: CounterDifference[] = [];
  for (const d of second) {
    const before = earlier.get(differenceKey(d));
    if (before !== undefined && before.stored === d.stored && before.counted === d.counted) stable.push(d);
    else moving.push(d);
  }
  return { stable, moving };
};

/** `vendor#acme` → vendor acme; `value#color#red` → color red; `abstained#color` → color (abstained); `confidence#color#7` → confidence of color 0.7–0.8. */
export const describeMembership = (membership: string): { facet: string; value: string } => {
  const [kind = '', first = '', ...rest] = membership.split('#');
  switch (kind) {
    case 'vendor':
    case 'status':
      return { facet: kind, value: first };
    case 'value':
      return { facet: first, value: rest.join('#') };
    case 'abstained':
      return { facet: first, value: '(abstained)' };
    case 'confidence': {
      const bin = Number(rest[0]);
      return { facet: `confidence of ${first}`, value: Number.isInteger(bin) ? `${(bin / 10).toFixed(1)}–${((bin + 1) / 10).toFixed(1)}` : String(rest[0]) };
    }
    default:
      return { facet: kind, value: [first, ...rest].join('#') };
  }
};

/** `acme#status#tagged` → acme status tagged; `acme#model#image#weft-image@2` → acme image model weft-image@2; `acme#mixed#image` → acme image model (mixed). */
export const describeStatsMembership = (membership: string): { facet: string; value: string } => {
  const parsed = parseStatSk(membership);
  if (parsed === undefined) return { facet: 'stats', value: membership };
  if (parsed.kind === 'status') return { facet: `${parsed.vendor} status`, value: parsed.status };
  return { facet: `${parsed.vendor} ${parsed.modality} model`, value: parsed.kind === 'model' ? parsed.version : '(mixed)' };
};

const total = (counts: ShardCounts, membership: string): number => {
  let sum = 0;
  for (const counters of counts.values()) sum += counters.get(membership) ?? 0;
  return sum;
};

/** Per membership of `differences`: the catalog-wide stored total → that total moved by the differences' corrections. */
export const facetFixes = (
  stored: ShardCounts,
  differences: readonly CounterDifference[],
  describe: (membership: string) => { facet: string; value: string } = describeMembership,
): FacetFix[] => {
  const deltas = new Map<string, number>();
  for (const d of differences) deltas.set(d.membership, (deltas.get(d.membership) ?? 0) + d.counted - (d.stored ?? 0));
  return [...deltas].map(([membership, delta]) => {
    const before = total(stored, membership);
    return { membership, ...describe(membership), stored: before, counted: before + delta };
  });
};

/** A character above every character of a vendor or product id (layout `ID_PATTERN`): `{vendor}#~` sorts after all of the vendor's sort keys. */
const AFTER_IDS = '~';

export interface RecountOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  index: CatalogIndex;
  /** Between the two reads when the first found differences; default 10 s. */
  settleMs?: number;
  /** Report what would be corrected, write nothing. */
  dryRun?: boolean;
  /** Vendors' partitions read at once; default 4. */
  concurrency?: number;
  /** How to wait `settleMs` (tests replace it). */
  wait?: (ms: number) => Promise<void>;
}

/** What the recount did to one set of counters. */
export interface CounterSetReport {
  /** Counter items (shard × membership) read. */
  counters: number;
  /** Corrected (or, with `dryRun`, to correct): per membership, stored total → counted total. */
  fixed: FacetFix[];
  /** Differences that changed between the reads or while correcting (live ingest): left alone. */
  moving: FacetFix[];
}

export interface RecountReport extends CounterSetReport {
  products: number;
  vendors: number;
  /** The catalog statistics' counters (`STATS#…`), recounted in the same pass; `fixed` and `moving` above are the facets'. */
  stats: CounterSetReport;
  /** Counter items written, facets and statistics together. */
  writes: number;
  dryRun: boolean;
}

export const DEFAULT_SETTLE_MS = 10_000;

interface Observation {
  products: number;
  vendors: number;
  /** Per counter set: the counter items, and what the product items say. */
  stored: Record<CounterField, ShardCounts>;
  counted: Record<CounterField, ShardCounts>;
}

interface CounterSet {
  field: CounterField;
  counters: ShardedCounters;
  describe: (membership: string) => { facet: string; value: string };
}

const COUNTER_FIELDS: readonly CounterField[] = ['facets', 'stats'];

const counterSets = (index: CatalogIndex): Record<CounterField, CounterSet> => ({
  facets: { field: 'facets', counters: index.facetCounters, describe: describeMembership },
  stats: { field: 'stats', counters: index.stats.counters, describe: describeStatsMembership },
});

/** Reads every counter and every listed product item once (Queries only). */
const observe = async (options: RecountOptions): Promise<Observation> => {
  const { client, tableName } = options;
  const sets = counterSets(options.index);
  const [facets, stats] = await Promise.all([sets.facets.counters.readShards({ consistent: true }), sets.stats.counters.readShards({ consistent: true })]);
  const stored = { facets, stats };
  const vendors = new Set<string>();
  for (const counters of facets.values()) for (const membership of counters.keys()) if (membership.startsWith('vendor#')) vendors.add(membership.slice('vendor#'.length));
  for (const counters of stats.values()) for (const membership of counters.keys()) {
    const vendor = parseStatSk(membership)?.vendor;
    if (vendor !== undefined) vendors.add(vendor);
  }
  // A skip scan of each status partition: its first entry after the last vendor found names the next vendor.
  await Promise.all(
    PRODUCT_STATUSES.map(async (status) => {
      let after: string | undefined;
      for (;;) {
        const page = await client.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: ATTRIBUTE_INDEX,
            KeyConditionExpression: after === undefined ? '#pk = :pk' : '#pk = :pk AND #sk > :after',
            ExpressionAttributeNames: { '#pk': 'gsi1pk', '#vendor': 'vendor', ...(after === undefined ? {} : { '#sk': 'gsi1sk' }) },
            ExpressionAttributeValues: { ':pk': statusGsiPk(status), ...(after === undefined ? {} : { ':after': after }) },
            ProjectionExpression: '#vendor',
            Limit: 1,
          }),
        );
        const vendor = page.Items?.[0]?.vendor;
        if (typeof vendor !== 'string') break;
        vendors.add(vendor);
        after = `${vendor}#${AFTER_IDS}`;
      }
    }),
  );
  const counted: Record<CounterField, ShardCounts> = { facets: new Map(), stats: new Map() };
  let products = 0;
  const queue = [...vendors].sort();
  const readVendor = async (vendor: string): Promise<void> => {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: ATTRIBUTE_INDEX,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': 'gsi1pk', '#vendor': 'vendor', '#productId': 'productId', '#status': 'status', '#facets': 'facets', '#stats': 'stats' },
          ExpressionAttributeValues: { ':pk': productsGsiPk(vendor) },
          ProjectionExpression: '#vendor, #productId, #status, #facets, #stats',
          ExclusiveStartKey: start,
        }),
      );
      for (const item of (page.Items ?? []) as CountedProduct[]) {
        if (item.status === undefined) continue;
        products += 1;
        for (const field of COUNTER_FIELDS) countProduct(counted[field], item, field);
      }
      start = page.LastEvaluatedKey;
    } while (start);
  };
  await Promise.all(
    Array.from({ length: Math.max(1, options.concurrency ?? 4) }, async () => {
      for (let vendor = queue.shift(); vendor !== undefined; vendor = queue.shift()) await readVendor(vendor);
    }),
  );
  return { products, vendors: vendors.size, stored, counted };
};

const countersIn = (counts: ShardCounts): number => [...counts.values()].reduce((sum, c) => sum + c.size, 0);

/** Recounts every facet and statistics counter from the listing and corrects those that drifted (see the top of this file). */
export const recountFacets = async (options: RecountOptions): Promise<RecountReport> => {
  const dryRun = options.dryRun ?? false;
  const sets = counterSets(options.index);
  const first = await observe(options);
  const firstDifferences = Object.fromEntries(COUNTER_FIELDS.map((field) => [field, counterDifferences(first.stored[field], first.counted[field])])) as Record<CounterField, CounterDifference[]>;
  if (COUNTER_FIELDS.every((field) => firstDifferences[field].length === 0)) {
    const exact = (field: CounterField): CounterSetReport => ({ counters: countersIn(first.stored[field]), fixed: [], moving: [] });
    return { products: first.products, vendors: first.vendors, ...exact('facets'), stats: exact('stats'), writes: 0, dryRun };
  }
  await (options.wait ?? ((ms) => new Promise<void>((resolve) => setTimeout(resolve, ms))))(options.settleMs ?? DEFAULT_SETTLE_MS);
  const second = await observe(options);
  const confirmed = COUNTER_FIELDS.map((field) => ({ set: sets[field], ...confirmDifferences(firstDifferences[field], counterDifferences(second.stored[field], second.counted[field])), applied: [] as CounterDifference[] }));
  let writes = 0;
  const corrections = confirmed.flatMap((entry) => entry.stable.map((d) => ({ entry, d })));
  if (dryRun) for (const { entry, d } of corrections) entry.applied.push(d);
  else {
    for (let offset = 0; offset < corrections.length; offset += 16) {
      await Promise.all(
        corrections.slice(offset, offset + 16).map(async ({ entry, d }) => {
          const { counters } = entry.set;
          if (await counters.adjust(d.shard, d.membership, d.stored, d.counted - (d.stored ?? 0))) {
            writes += 1;
            entry.applied.push(d);
            return;
          }
          // Refused: a merge moved the counter since the read, or an SDK retry found this correction applied.
          if ((await counters.read(d.shard, d.membership)) === d.counted) entry.applied.push(d);
          else entry.moving.push(d);
        }),
      );
    }
  }
  const order = (a: FacetFix, b: FacetFix): number => (a.membership < b.membership ? -1 : a.membership > b.membership ? 1 : 0);
  const report = ({ set, applied, moving }: (typeof confirmed)[number]): CounterSetReport => ({
    counters: countersIn(second.stored[set.field]),
    fixed: facetFixes(second.stored[set.field], applied, set.describe).sort(order),
    // As the second read saw them: the catalog-wide stored and counted totals.
    moving: facetFixes(second.stored[set.field], moving, set.describe)
      .map((f) => ({ ...f, counted: total(second.counted[set.field], f.membership) }))
      .sort(order),
  });
  const [facets, stats] = confirmed.map(report) as [CounterSetReport, CounterSetReport];
  return { products: second.products, vendors: second.vendors, ...facets, stats, writes, dryRun };
};
