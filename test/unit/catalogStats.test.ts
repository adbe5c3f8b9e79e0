/**
 * The catalog statistics behind `GET /stats`: the pure state → memberships → ADDs of a merge
 * (only the difference between the product's previous and new state), the summary the API
 * answers, and on dynalite counters that stay exact through merges, re-tags to another model
 * version, removed sources, failures, pending retries and corrections — equal, after every step,
 * to a brute-force count of the products' source items — and that `weft recount` puts right.
 */
import { ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatStats } from '../../cli/commands/stats.js';
import { EnsembleConfigSchema } from '../../functions/shared/manifest.js';
import { facetShard } from '../../functions/shared/products/catalogIndex.js';
import {
  MODEL_MODALITIES,
  mixedStatSk,
  parseStatSk,
  statsAdds,
  statsMemberships,
  statsPk,
  statsState,
  statusStatSk,
  summarizeStats,
  versionStatSk,
  type CatalogStatsView,
  type StatsState,
} from '../../functions/shared/products/catalogStats.js';
import { taskCatalog } from '../../functions/shared/products/ensemble.js';
import { describeStatsMembership, recountFacets } from '../../functions/shared/products/facetRecount.js';
import type { SourceItem } from '../../functions/shared/products/items.js';
import { normalizeSequencer, productPk, PRODUCT_SK } from '../../functions/shared/products/keys.js';
import { ProductStore } from '../../functions/shared/products/productStore.js';
import { reindexCatalog } from '../../functions/shared/products/reindex.js';
import { startTestTable, type TestTable } from './support/dynalite.js';

const source = (kind: SourceItem['kind'], status: SourceItem['status'], modelVersion?: string): SourceItem => ({
  pk: 'P#acme#a',
  sk: `SRC#${kind}`,
  type: 'source',
  vendor: 'acme',
  productId: 'a',
  kind,
  sourceId: kind,
  status,
  ...(modelVersion ? { modelVersion } : {}),
  updatedAt: '2026-12-01T00:00:00.000Z',
});

/** What a merge ADDs going from one state to the next, as `membership: delta`. */
const adds = (before: StatsState | undefined, after: StatsState, vendor = 'acme'): Record<string, number> =>
  Object.fromEntries(statsAdds(before === undefined ? undefined : statsMemberships(vendor, before), statsMemberships(vendor, after)));

describe('state → memberships → ADDs (pure)', () => {
  it('reads the status and, per modality, the distinct versions of the tagged sources only', () => {
    expect(statsState([source('image', 'tagged', 'weft-image@1'), source('image', 'tagged', 'weft-image@1'), source('text', 'tagged', 'weft-text@1'), source('rules', 'tagged')])).toEqual({
      status: 'tagged',
      versions: { image: ['weft-image@1'], text: ['weft-text@1'] },
    });
    // A pending or failed source has no predictions and records no version; a tagged one without a version is left out.
    expect(statsState([source('image', 'tagged', 'weft-image@2'), source('image', 'tagged', 'weft-image@1'), source('image', 'pending'), source('text', 'error'), source('image', 'tagged')])).toEqual({
      status: 'error',
      versions: { image: ['weft-image@1', 'weft-image@2'] },
    });
    expect(statsState([])).toEqual({ versions: {} });
  });

  it('counts a product once per modality: under its one version, or as mixed', () => {
    expect(statsMemberships('acme', { status: 'tagged', versions: { image: ['weft-image@1'], text: ['weft-text@1'] } })).toEqual([
      'acme#model#image#weft-image@1',
      'acme#model#text#weft-text@1',
      'acme#status#tagged',
    ]);
    expect(statsMemberships('acme', { status: 'pending', versions: { image: ['weft-image@1', 'weft-image@2'] } })).toEqual(['acme#mixed#image', 'acme#status#pending']);
    expect(statsMemberships('acme', { versions: { image: ['weft-image@1'] } })).toEqual([]);
  });

  it('sends only the difference between the previous and the new state', () => {
    const v1: StatsState = { status: 'tagged', versions: { image: ['weft-image@1'], text: ['weft-text@1'] } };
    // A new product: one ADD per membership.
    expect(adds(undefined, v1)).toEqual({ 'acme#status#tagged': 1, 'acme#model#image#weft-image@1': 1, 'acme#model#text#weft-text@1': 1 });
    // Nothing the statistics know changed (a new confidence, a correction): nothing sent.
    expect(adds(v1, v1)).toEqual({});
    // One of two images re-tagged by the new model: v1 → mixed; the second one too: mixed → v2.
    const mixed: StatsState = { ...v1, versions: { ...v1.versions, image: ['weft-image@1', 'weft-image@2'] } };
    expect(adds(v1, mixed)).toEqual({ 'acme#model#image#weft-image@1': -1, 'acme#mixed#image': 1 });
    const v2: StatsState = { ...v1, versions: { ...v1.versions, image: ['weft-image@2'] } };
    expect(adds(mixed, v2)).toEqual({ 'acme#mixed#image': -1, 'acme#model#image#weft-image@2': 1 });
    // The image removed: it leaves the image counts, stays in the others.
    expect(adds(v2, { status: 'tagged', versions: { text: ['weft-text@1'] } })).toEqual({ 'acme#model#image#weft-image@2': -1 });
    // A failure: the status moves, and the failed text no longer counts under its version.
    expect(adds(v2, { status: 'error', versions: { image: ['weft-image@2'] } })).toEqual({ 'acme#status#tagged': -1, 'acme#status#error': 1, 'acme#model#text#weft-text@1': -1 });
    // Every source deleted: out of every count.
    expect(adds(v2, { versions: {} })).toEqual({ 'acme#status#tagged': -1, 'acme#model#image#weft-image@2': -1, 'acme#model#text#weft-text@1': -1 });
  });

  it('splits sort keys back, whatever the version holds, and refuses keys it did not write', () => {
    expect(parseStatSk(statusStatSk('acme', 'error'))).toEqual({ vendor: 'acme', kind: 'status', status: 'error' });
    expect(parseStatSk(versionStatSk('acme', 'image', 'weft-image@2026#rc1'))).toEqual({ vendor: 'acme', kind: 'model', modality: 'image', version: 'weft-image@2026#rc1' });
    expect(parseStatSk(mixedStatSk('acme', 'text'))).toEqual({ vendor: 'acme', kind: 'mixed', modality: 'text' });
    for (const sk of ['acme', 'acme#status#done', 'acme#model#rules#x', 'acme#mixed#image#x', '#status#tagged', 'acme#model#image']) expect(parseStatSk(sk)).toBeUndefined();
    expect(describeStatsMembership('acme#status#tagged')).toEqual({ facet: 'acme status', value: 'tagged' });
    expect(describeStatsMembership('acme#model#image#weft-image@2')).toEqual({ facet: 'acme image model', value: 'weft-image@2' });
    expect(describeStatsMembership('acme#mixed#text')).toEqual({ facet: 'acme text model', value: '(mixed)' });
  });
});

describe('summary (pure)', () => {
  const totals = new Map([
    ['acme#status#tagged', 3],
    ['acme#status#error', 1],
    ['acme#model#image#weft-image@1', 1],
    ['acme#model#image#weft-image@2', 2],
    ['acme#mixed#image', 1],
    ['acme#model#text#weft-text@1', 4],
    ['bazaar#status#pending', 2],
    ['bazaar#model#text#weft-text@1', 1],
    ['bazaar#model#image#weft-image@0', 0],
    ['zeta#status#tagged', -1],
    ['unknown#kind#x', 5],
  ]);

  it('counts products per status, vendor and version; stale against the deployed version, mixed included; none as the rest', () => {
    expect(summarizeStats(totals, { image: 'weft-image@2', text: 'weft-text@1' })).toEqual({
      products: 6,
      status: { tagged: 3, error: 1, pending: 2 },
      models: {
        image: { deployed: 'weft-image@2', versions: { 'weft-image@1': 1, 'weft-image@2': 2 }, mixed: 1, stale: 2, none: 2 },
        text: { deployed: 'weft-text@1', versions: { 'weft-text@1': 5 }, mixed: 0, stale: 0, none: 1 },
      },
      vendors: { acme: 4, bazaar: 2 },
    } satisfies CatalogStatsView);
  });

  it("restricts to one vendor, and calls every counted product stale where nothing of the modality is deployed", () => {
    expect(summarizeStats(totals, { image: 'weft-image@2' }, 'bazaar')).toEqual({
      vendor: 'bazaar',
      products: 2,
      status: { pending: 2 },
      models: { image: { deployed: 'weft-image@2', versions: {}, mixed: 0, stale: 0, none: 2 }, text: { versions: { 'weft-text@1': 1 }, mixed: 0, stale: 1, none: 1 } },
      vendors: { bazaar: 2 },
    });
  });

  it('prints a table: the deployed version marked, the stale count, per vendor', () => {
    const text = formatStats(summarizeStats(totals, { image: 'weft-image@2', text: 'weft-text@1' }));
    expect(text).toBe(
      [
        'status   products',
        'tagged          3',
        'pending         2',
        'error           1',
        'total           6',
        '',
        'image model version           products',
        '  weft-image@1                       1',
        '  weft-image@2  (deployed)           2',
        '  several versions (mixed)           1',
        '  no tagged image source             2',
        '  stale: not on weft-image@2         2',
        '',
        'text model version           products',
        '  weft-text@1  (deployed)           5',
        '  no tagged text source             1',
        '  stale: not on weft-text@1         0',
        '',
        'vendor  products',
        'acme           4',
        'bazaar         2',
        '',
      ].join('\n'),
    );
  });
});

describe('the statistics counters on dynalite', () => {
  const catalog = taskCatalog([{ tasks: [{ name: 'color', labels: ['red', 'blue'] }] }]);
  const ensemble = EnsembleConfigSchema.parse({ schemaVersion: 1, defaults: { weights: { image: 1, text: 1, rules: 1 }, threshold: 0 } });
  const DEPLOYED = { image: 'weft-image@2', text: 'weft-text@1' };
  let table: TestTable;
  let store: ProductStore;
  let sequence = 0;
  const seq = () => normalizeSequencer((++sequence).toString(16).padStart(8, '0'));
  /** The statistics ADDs sent (sort key: delta), recorded by the store's client. */
  let sent: string[] = [];

  const recording = (client: DynamoDBDocumentClient, fail = false): DynamoDBDocumentClient =>
    Object.assign(Object.create(client) as DynamoDBDocumentClient, {
      send: (command: { input: { Key?: { pk?: string; sk?: string }; ExpressionAttributeValues?: Record<string, unknown> } }, ...rest: unknown[]) => {
        if (command instanceof UpdateCommand && String(command.input.Key?.pk).startsWith('STATS#')) {
          if (fail) return Promise.reject(new Error('connection reset'));
          sent.push(`${command.input.Key?.sk}: ${command.input.ExpressionAttributeValues?.[':delta']}`);
        }
        return (client.send as (...a: unknown[]) => Promise<unknown>)(command, ...rest);
      },
    });

  const image = (target: ProductStore, vendor: string, productId: string, name: string, version: string, color = 'red') =>
    target.completeSource({ vendor, productId, kind: 'image', name }, seq(), { status: 'tagged', predictions: { color: { [color]: 0.9, red: 0.1 } }, modelVersion: version, views: ['downsampled'] }, `${vendor}/${productId}/images/${name}`);
  const text = (target: ProductStore, vendor: string, productId: string, version: string) =>
    target.completeSource({ vendor, productId, kind: 'text' }, seq(), { status: 'tagged', predictions: { color: { red: 0.7, blue: 0.3 } }, modelVersion: version, text: productId, document: JSON.stringify({ title: productId }) }, `${vendor}/${productId}/product.json`);

  /** The statistics counted from scratch: every source item of the table (a Scan, only here in a test), grouped by product. */
  const bruteForce = async (deployed: Record<string, string>, vendor?: string): Promise<CatalogStatsView> => {
    const items: SourceItem[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await table.client.send(new ScanCommand({ TableName: table.tableName, ExclusiveStartKey: start, ConsistentRead: true }));
      items.push(...((page.Items ?? []) as SourceItem[]).filter((i) => i.type === 'source' && i.status !== 'deleted' && (vendor === undefined || i.vendor === vendor)));
      start = page.LastEvaluatedKey;
    } while (start);
    const products = new Map<string, SourceItem[]>();
    for (const item of items) products.set(item.pk, [...(products.get(item.pk) ?? []), item]);
    const view: CatalogStatsView = { ...(vendor ? { vendor } : {}), products: products.size, status: {}, models: { image: { versions: {}, mixed: 0, stale: 0, none: 0 }, text: { versions: {}, mixed: 0, stale: 0, none: 0 } }, vendors: {} };
    for (const live of products.values()) {
      const status = live.some((s) => s.status === 'error') ? 'error' : live.some((s) => s.status === 'pending') ? 'pending' : 'tagged';
      view.status[status] = (view.status[status] ?? 0) + 1;
      view.vendors[live[0]!.vendor] = (view.vendors[live[0]!.vendor] ?? 0) + 1;
      for (const modality of MODEL_MODALITIES) {
        const counts = view.models[modality];
        const versions = new Set(live.filter((s) => s.kind === modality && s.status === 'tagged' && s.modelVersion).map((s) => s.modelVersion!));
        if (versions.size === 0) counts.none += 1;
        else if (versions.size > 1) counts.mixed += 1;
        else counts.versions[[...versions][0]!] = (counts.versions[[...versions][0]!] ?? 0) + 1;
        if (versions.size > 1 || (versions.size === 1 && !versions.has(deployed[modality]!))) counts.stale += 1;
      }
    }
    for (const modality of MODEL_MODALITIES) if (deployed[modality]) view.models[modality].deployed = deployed[modality];
    return view;
  };
  const exact = async () => {
    const counted = await store.catalogIndex.stats.read(DEPLOYED);
    expect(counted).toEqual(await bruteForce(DEPLOYED));
    for (const vendor of ['acme', 'bazaar']) expect(await store.catalogIndex.stats.read(DEPLOYED, vendor)).toEqual(await bruteForce(DEPLOYED, vendor));
    return counted;
  };

  beforeAll(async () => {
    table = await startTestTable('weft-stats-test');
    store = new ProductStore({ client: recording(table.client), tableName: table.tableName, catalog, ensemble });
  });
  afterAll(async () => {
    await table?.stop();
  });

  it('counts new products: one ADD per membership, the statistics equal to the brute-force count', async () => {
    await image(store, 'acme', 'a', 'front.jpg', 'weft-image@1');
    await text(store, 'acme', 'a', 'weft-text@1');
    await store.merge('acme', 'a');
    expect(sent.sort()).toEqual(['acme#model#image#weft-image@1: 1', 'acme#model#text#weft-text@1: 1', 'acme#status#tagged: 1']);
    await image(store, 'acme', 'b', 'front.jpg', 'weft-image@1');
    await image(store, 'acme', 'b', 'back.jpg', 'weft-image@1', 'blue');
    await text(store, 'acme', 'b', 'weft-text@1');
    await store.merge('acme', 'b');
    await image(store, 'bazaar', 'c', 'front.jpg', 'weft-image@1');
    await store.merge('bazaar', 'c');
    // A product whose image was refused for good: status error, no image version.
    await store.completeSource({ vendor: 'bazaar', productId: 'd', kind: 'image', name: 'bad.jpg' }, seq(), { status: 'error', error: { code: 'corrupt_image', message: 'bad' } }, 'bazaar/d/images/bad.jpg');
    await text(store, 'bazaar', 'd', 'weft-text@1');
    await store.merge('bazaar', 'd');
    expect(await exact()).toMatchObject({
      products: 4,
      status: { tagged: 3, error: 1 },
      models: { image: { versions: { 'weft-image@1': 3 }, stale: 3, none: 1 }, text: { versions: { 'weft-text@1': 3 }, stale: 0, none: 1 } },
      vendors: { acme: 2, bazaar: 2 },
    });
  });

  it('moves a product from version to version as its sources are re-tagged, by the difference only', async () => {
    sent = [];
    await image(store, 'acme', 'b', 'front.jpg', 'weft-image@2');
    await store.merge('acme', 'b');
    expect(sent.sort()).toEqual(['acme#mixed#image: 1', 'acme#model#image#weft-image@1: -1']);
    await image(store, 'acme', 'a', 'front.jpg', 'weft-image@2');
    await store.merge('acme', 'a');
    expect(await exact()).toMatchObject({ models: { image: { versions: { 'weft-image@1': 1, 'weft-image@2': 1 }, mixed: 1, stale: 2, none: 1 } } });
    sent = [];
    await image(store, 'acme', 'b', 'back.jpg', 'weft-image@2', 'blue');
    await store.merge('acme', 'b');
    expect(sent.sort()).toEqual(['acme#mixed#image: -1', 'acme#model#image#weft-image@2: 1']);
    expect(await exact()).toMatchObject({ models: { image: { versions: { 'weft-image@1': 1, 'weft-image@2': 2 }, mixed: 0, stale: 1 } } });
  });

  it('follows removed sources, a product with none left, a pending retry and a failure; a correction sends nothing', async () => {
    await store.removeSource({ vendor: 'acme', productId: 'b', kind: 'image', name: 'back.jpg' }, seq(), 'acme/b/images/back.jpg');
    await store.merge('acme', 'b');
    await exact();
    await store.removeSource({ vendor: 'bazaar', productId: 'c', kind: 'image', name: 'front.jpg' }, seq(), 'bazaar/c/images/front.jpg');
    await store.merge('bazaar', 'c');
    expect(await exact()).toMatchObject({ products: 3, vendors: { acme: 2, bazaar: 1 }, models: { image: { versions: { 'weft-image@2': 2 }, stale: 0 } } });
    // The text's message failed after the gate: pending while it waits, its version gone with its predictions.
    await store.beginSource({ vendor: 'acme', productId: 'a', kind: 'text' }, seq(), 'acme/a/product.json', { code: 'endpoint_unavailable', message: 'down', attempt: 1 });
    await store.merge('acme', 'a');
    expect(await exact()).toMatchObject({ status: { tagged: 1, pending: 1, error: 1 }, models: { text: { versions: { 'weft-text@1': 2 }, none: 1 } } });
    await store.completeSource({ vendor: 'acme', productId: 'b', kind: 'image', name: 'front.jpg' }, seq(), { status: 'error', error: { code: 'corrupt_image', message: 'bad' } }, 'acme/b/images/front.jpg');
    await store.merge('acme', 'b');
    expect(await exact()).toMatchObject({ status: { pending: 1, error: 2 } });
    sent = [];
    await store.putCorrection('bazaar', 'd', 'color', 'blue');
    expect(await store.merge('bazaar', 'd')).toMatchObject({ changed: true });
    expect(sent).toEqual([]);
    await exact();
  });

  it("counts a product merged before the statistics existed at its next merge, once, and weft reindex does it for all", async () => {
    // As an earlier version left it: a listed product item without `stats`, counted nowhere.
    await image(store, 'bazaar', 'legacy', 'front.jpg', 'weft-image@2');
    await store.merge('bazaar', 'legacy');
    await table.client.send(new UpdateCommand({ TableName: table.tableName, Key: { pk: productPk('bazaar', 'legacy'), sk: PRODUCT_SK }, UpdateExpression: 'REMOVE #s', ExpressionAttributeNames: { '#s': 'stats' } }));
    for (const sk of ['bazaar#status#tagged', 'bazaar#model#image#weft-image@2']) {
      await table.client.send(new UpdateCommand({ TableName: table.tableName, Key: { pk: statsPk(facetShard('bazaar', 'legacy')), sk }, UpdateExpression: 'ADD #c :d', ExpressionAttributeNames: { '#c': 'count' }, ExpressionAttributeValues: { ':d': -1 } }));
    }
    expect((await store.catalogIndex.stats.read(DEPLOYED)).products).toBe(3);
    const summary = await reindexCatalog({ client: table.client, tableName: table.tableName, store });
    // bazaar/c, left without live sources, is a product item too (it stays unlisted and uncounted).
    expect(summary).toMatchObject({ products: 5, rewritten: 1, failed: 0 });
    expect(await exact()).toMatchObject({ products: 4 });
    // Counted once: a second pass finds everything current.
    expect(await reindexCatalog({ client: table.client, tableName: table.tableName, store })).toMatchObject({ rewritten: 0 });
    await exact();
  });

  it('weft recount puts right the counters of a merge whose statistics ADDs failed and a counter skewed by hand', async () => {
    sent = [];
    const failing = new ProductStore({ client: recording(table.client, true), tableName: table.tableName, catalog, ensemble });
    await image(failing, 'acme', 'e', 'front.jpg', 'weft-image@2');
    await text(failing, 'acme', 'e', 'weft-text@1');
    await failing.merge('acme', 'e');
    await table.client.send(new UpdateCommand({ TableName: table.tableName, Key: { pk: statsPk(facetShard('acme', 'a')), sk: 'acme#status#pending' }, UpdateExpression: 'ADD #c :d', ExpressionAttributeNames: { '#c': 'count' }, ExpressionAttributeValues: { ':d': 2 } }));
    expect(await store.catalogIndex.stats.read(DEPLOYED)).not.toEqual(await bruteForce(DEPLOYED));

    const report = await recountFacets({ client: table.client, tableName: table.tableName, index: store.catalogIndex, wait: async () => {} });
    expect(report).toMatchObject({ products: 5, fixed: [], moving: [], stats: { moving: [] }, writes: 4 });
    expect(report.stats.fixed.map((f) => `${f.facet} ${f.value}: ${f.stored} → ${f.counted}`)).toEqual([
      'acme image model weft-image@2: 1 → 2',
      'acme text model weft-text@1: 1 → 2',
      'acme status pending: 3 → 1',
      'acme status tagged: 0 → 1',
    ]);
    await exact();
    expect(await recountFacets({ client: table.client, tableName: table.tableName, index: store.catalogIndex, wait: async () => {} })).toMatchObject({ stats: { fixed: [], moving: [] }, writes: 0 });
  });
});
