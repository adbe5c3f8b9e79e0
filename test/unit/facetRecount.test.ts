/**
 * The facet recount: the pure comparison of stored and counted counters per shard, then on
 * dynalite a counter left off by a merge whose ADD failed and counters skewed by hand, put right by
 * one recount that reads only with Queries; a second recount writes nothing; a merge that lands
 * between the recount's two reads is left to its own ADDs, never corrected over.
 */
import { DeleteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnsembleConfigSchema } from '../../functions/shared/manifest.js';
import { facetPk, facetShard, FACET_SHARDS } from '../../functions/shared/products/catalogIndex.js';
import { CatalogQueries } from '../../functions/shared/products/catalogQueries.js';
import { taskCatalog } from '../../functions/shared/products/ensemble.js';
import {
  confirmDifferences,
  countMemberships,
  counterDifferences,
  describeMembership,
  facetFixes,
  recountFacets,
  type ShardCounts,
} from '../../functions/shared/products/facetRecount.js';
import { normalizeSequencer } from '../../functions/shared/products/keys.js';
import { ProductStore } from '../../functions/shared/products/productStore.js';
import { startTestTable, type TestTable } from './support/dynalite.js';

const shards = (entries: Record<number, Record<string, number>>): ShardCounts => new Map(Object.entries(entries).map(([shard, counters]) => [Number(shard), new Map(Object.entries(counters))]));

describe('counting and comparing (pure)', () => {
  it('counts each product in the shard of its key, and a product without live sources nowhere', () => {
    const counts = countMemberships([
      { vendor: 'acme', productId: 'a', status: 'tagged', facets: ['vendor#acme', 'status#tagged', 'value#color#red'] },
      { vendor: 'acme', productId: 'b', status: 'error', facets: ['vendor#acme', 'status#error'] },
      { vendor: 'acme', productId: 'gone', facets: [] },
      { vendor: 'acme', productId: 'legacy', status: 'tagged' },
    ]);
    const a = facetShard('acme', 'a');
    const b = facetShard('acme', 'b');
    expect(counts.get(a)?.get('value#color#red')).toBe(1);
    expect(counts.get(b)?.get('status#error')).toBe(1);
    const total = (m: string) => [...counts.values()].reduce((sum, c) => sum + (c.get(m) ?? 0), 0);
    expect(total('vendor#acme')).toBe(2);
    expect(total('status#tagged')).toBe(1);
  });

  it('reports every shard counter that differs, a missing item as 0, and nothing for an item at 0 nobody counts in', () => {
    const stored = shards({ 0: { 'vendor#acme': 3, 'value#color#red': 0, 'status#tagged': -1 }, 2: { 'value#color#blue': 2 } });
    const counted = shards({ 0: { 'vendor#acme': 2, 'status#tagged': 0 }, 2: { 'value#color#blue': 2 }, 5: { 'value#color#blue': 1 } });
    expect(counterDifferences(stored, counted)).toEqual([
      { shard: 0, membership: 'status#tagged', stored: -1, counted: 0 },
      { shard: 5, membership: 'value#color#blue', stored: undefined, counted: 1 },
      { shard: 0, membership: 'vendor#acme', stored: 3, counted: 2 },
    ]);
    expect(counterDifferences(counted, counted)).toEqual([]);
    expect(counterDifferences(new Map(), new Map())).toEqual([]);
  });

  it("keeps only differences two reads saw alike; the second read's others moved in between", () => {
    const first = [
      { shard: 1, membership: 'vendor#acme', stored: 3, counted: 2 },
      { shard: 1, membership: 'status#pending', stored: 4, counted: 5 },
      { shard: 3, membership: 'status#tagged', stored: 1, counted: 2 },
    ];
    const second = [
      { shard: 1, membership: 'vendor#acme', stored: 3, counted: 2 },
      // Both moved by one: a merge landed in between, the difference looks the same but is not the same observation.
      { shard: 1, membership: 'status#pending', stored: 5, counted: 6 },
      { shard: 4, membership: 'status#error', stored: 0, counted: 1 },
    ];
    const { stable, moving } = confirmDifferences(first, second);
    expect(stable).toEqual([{ shard: 1, membership: 'vendor#acme', stored: 3, counted: 2 }]);
    // status#tagged in shard 3 has gone by itself: nothing to correct, nothing moving.
    expect(moving.map((d) => `${d.shard} ${d.membership}`).sort()).toEqual(['1 status#pending', '4 status#error']);
  });

  it('sums a facet over the shards for the report, and names it as the console does', () => {
    const stored = shards({ 0: { 'value#color#red': 2 }, 1: { 'value#color#red': 3 } });
    expect(facetFixes(stored, [{ shard: 1, membership: 'value#color#red', stored: 3, counted: 1 }])).toEqual([{ membership: 'value#color#red', facet: 'color', value: 'red', stored: 5, counted: 3 }]);
    expect(describeMembership('vendor#acme')).toEqual({ facet: 'vendor', value: 'acme' });
    expect(describeMembership('status#error')).toEqual({ facet: 'status', value: 'error' });
    expect(describeMembership('abstained#pattern')).toEqual({ facet: 'pattern', value: '(abstained)' });
    expect(describeMembership('confidence#color#7')).toEqual({ facet: 'confidence of color', value: '0.7–0.8' });
  });
});

describe('recountFacets on dynalite', () => {
  const catalog = taskCatalog([{ tasks: [{ name: 'color', labels: ['red', 'blue'] }] }]);
  const ensemble = EnsembleConfigSchema.parse({ schemaVersion: 1, defaults: { weights: { image: 1, text: 1, rules: 1 }, threshold: 0.6 } });
  let table: TestTable;
  let store: ProductStore;
  let queries: CatalogQueries;
  let sequence = 0;
  const noWait = async () => {};

  const addProduct = async (target: ProductStore, vendor: string, productId: string, predictions: Record<string, number>) => {
    const seq = normalizeSequencer((++sequence).toString(16).padStart(8, '0'));
    await target.completeSource({ vendor, productId, kind: 'text' }, seq, { status: 'tagged', predictions: { color: predictions }, text: productId, document: JSON.stringify({ title: productId }) }, `${vendor}/${productId}/product.json`);
    await target.merge(vendor, productId);
  };
  const recount = (options: { wait?: (ms: number) => Promise<void>; dryRun?: boolean } = {}) =>
    recountFacets({ client: table.client, tableName: table.tableName, index: store.catalogIndex, wait: noWait, ...options });
  const counters = async () => JSON.stringify([...(await store.catalogIndex.readShardCounters({ consistent: true }))].sort(([a], [b]) => a - b).map(([s, c]) => [s, [...c].sort()]));
  const skew = (vendor: string, productId: string, membership: string, delta: number) =>
    table.client.send(new UpdateCommand({ TableName: table.tableName, Key: { pk: facetPk(facetShard(vendor, productId)), sk: membership }, UpdateExpression: 'ADD #c :d', ExpressionAttributeNames: { '#c': 'count' }, ExpressionAttributeValues: { ':d': delta } }));

  beforeAll(async () => {
    table = await startTestTable('weft-recount-test');
    store = new ProductStore({ client: table.client, tableName: table.tableName, catalog, ensemble });
    queries = new CatalogQueries(table.client, table.tableName, catalog, store.catalogIndex);
    await addProduct(store, 'acme', 'a', { red: 0.9, blue: 0.1 });
    await addProduct(store, 'acme', 'b', { red: 0.8, blue: 0.2 });
    await addProduct(store, 'acme', 'c', { red: 0.5, blue: 0.5 });
    await addProduct(store, 'bazaar', 'd', { blue: 0.95, red: 0.05 });
  });

  afterAll(async () => {
    await table?.stop();
  });

  it('finds every count exact after ordinary merges and writes nothing', async () => {
    const before = await counters();
    expect(await recount()).toMatchObject({ products: 4, vendors: 2, fixed: [], moving: [], writes: 0 });
    expect(await counters()).toBe(before);
  });

  it("puts right the counts of a merge whose counter ADDs failed and the counters skewed by hand, reading with Queries only", async () => {
    // A merge whose product write succeeds and whose counter ADDs fail (as after a crash or a lost reply).
    const failingAdds = Object.assign(Object.create(table.client) as DynamoDBDocumentClient, {
      send: (command: { input: { Key?: { pk?: string } } }, ...rest: unknown[]) =>
        command instanceof UpdateCommand && String(command.input.Key?.pk).startsWith('FACETS#') ? Promise.reject(new Error('connection reset')) : (table.client.send as (...a: unknown[]) => Promise<unknown>)(command, ...rest),
    });
    await addProduct(new ProductStore({ client: failingAdds, tableName: table.tableName, catalog, ensemble }), 'northwind', 'e', { blue: 0.9, red: 0.1 });
    await skew('acme', 'a', 'value#color#red', 2);
    await skew('acme', 'b', 'vendor#acme', -1);
    await table.client.send(new DeleteCommand({ TableName: table.tableName, Key: { pk: facetPk(facetShard('acme', 'c')), sk: 'abstained#color' } }));
    expect((await queries.facets()).facets).toMatchObject({ products: 3, vendors: { acme: 2, bazaar: 1 }, values: { color: { red: 4, blue: 1 } } });

    const sent: string[] = [];
    const spy = Object.assign(Object.create(table.client) as DynamoDBDocumentClient, {
      send: (command: { constructor: { name: string } }, ...rest: unknown[]) => (sent.push(command.constructor.name), (table.client.send as (...a: unknown[]) => Promise<unknown>)(command, ...rest)),
    });
    const waits: number[] = [];
    const report = await recountFacets({ client: spy, tableName: table.tableName, index: new ProductStore({ client: spy, tableName: table.tableName, catalog, ensemble }).catalogIndex, settleMs: 1234, wait: async (ms) => void waits.push(ms) });
    expect(waits).toEqual([1234]);
    expect(new Set(sent)).toEqual(new Set(['QueryCommand', 'UpdateCommand']));
    expect(report).toMatchObject({ products: 5, vendors: 3, moving: [], dryRun: false });
    expect(report.fixed.map((f) => `${f.facet} ${f.value}: ${f.stored} → ${f.counted}`)).toEqual([
      'color (abstained): 0 → 1',
      'confidence of color 0.9–1.0: 2 → 3',
      'status tagged: 4 → 5',
      'color blue: 1 → 2',
      'color red: 4 → 2',
      'vendor acme: 2 → 3',
      'vendor northwind: 0 → 1',
    ]);
    expect(report.writes).toBe(7);

    const { facets } = await queries.facets();
    expect(facets).toMatchObject({ products: 5, vendors: { acme: 3, bazaar: 1, northwind: 1 }, status: { tagged: 5 }, values: { color: { red: 2, blue: 2 } }, abstained: { color: 1 } });
    expect(facets.confidence.color).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 1, 3]);

    const settled = await counters();
    expect(await recount()).toMatchObject({ products: 5, fixed: [], moving: [], writes: 0 });
    expect(await counters()).toBe(settled);
  });

  it('with --dry-run reports and writes nothing', async () => {
    await skew('bazaar', 'd', 'value#color#blue', 1);
    const before = await counters();
    const report = await recount({ dryRun: true });
    expect(report.fixed.map((f) => `${f.facet} ${f.value}: ${f.stored} → ${f.counted}`)).toEqual(['color blue: 3 → 2']);
    expect(report.writes).toBe(0);
    expect(await counters()).toBe(before);
    expect((await recount()).writes).toBe(1);
  });

  it('leaves a counter that a merge moves between the two reads to that merge, and corrects it on the next quiet run', async () => {
    await skew('acme', 'a', 'value#color#red', 1);
    // Between the reads, a correction moves acme/a from red to blue: its merge ADDs −1 red, +1 blue in a's shard.
    const report = await recount({
      wait: async () => {
        await store.putCorrection('acme', 'a', 'color', 'blue');
        await store.merge('acme', 'a');
      },
    });
    expect(report.fixed).toEqual([]);
    expect(report.moving.map((f) => f.membership)).toEqual(['value#color#red']);
    // Not worse than before: still off by the one the skew added, the merge's own move counted.
    expect((await queries.facets()).facets.values.color).toEqual({ red: 2, blue: 3 });
    const quiet = await recount();
    expect(quiet.fixed.map((f) => `${f.facet} ${f.value}: ${f.stored} → ${f.counted}`)).toEqual(['color red: 2 → 1']);
    expect((await queries.facets()).facets.values.color).toEqual({ red: 1, blue: 3 });
  });

  it('corrects a shard only if it still holds the count read', async () => {
    const shard = facetShard('acme', 'a');
    const now = (await store.catalogIndex.readCounter(shard, 'value#color#blue'))!;
    expect(await store.catalogIndex.adjustCounter(shard, 'value#color#blue', now - 1, 5)).toBe(false);
    expect(await store.catalogIndex.readCounter(shard, 'value#color#blue')).toBe(now);
    expect(await store.catalogIndex.adjustCounter(shard, 'value#color#blue', now, 1)).toBe(true);
    expect(await store.catalogIndex.adjustCounter(shard, 'value#color#blue', now, 1)).toBe(false);
    expect(await store.catalogIndex.adjustCounter((shard + 1) % FACET_SHARDS, 'value#color#none', undefined, 1)).toBe(true);
    await recount();
    expect(await store.catalogIndex.readCounter(shard, 'value#color#blue')).toBe(now);
    expect(await store.catalogIndex.readCounter((shard + 1) % FACET_SHARDS, 'value#color#none')).toBe(0);
  });
});
