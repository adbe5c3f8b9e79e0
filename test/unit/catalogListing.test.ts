/**
 * The listing, facet counters and review queue on dynalite: every read a Query, counts that follow
 * changes (corrections, errors, deletions), paging across vendors, and cursors held to their query.
 */
import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnsembleConfigSchema } from '../../functions/shared/manifest.js';
import { rankTasks, taskCatalog } from '../../functions/shared/products/ensemble.js';
import { CatalogQueries, matches } from '../../functions/shared/products/catalogQueries.js';
import { InvalidCursorError } from '../../functions/shared/products/cursor.js';
import { normalizeSequencer } from '../../functions/shared/products/keys.js';
import { bucketKey, facetDeltas, facetMemberships } from '../../functions/shared/products/listing.js';
import { ProductStore } from '../../functions/shared/products/productStore.js';
import { startTestTable, type TestTable } from './support/dynalite.js';

const catalog = taskCatalog([{ tasks: [{ name: 'color', labels: ['red', 'blue', 'green'] }, { name: 'pattern', labels: ['solid', 'striped'] }] }]);
const ensemble = EnsembleConfigSchema.parse({
  schemaVersion: 1,
  defaults: { weights: { image: 0.5, text: 0.5, rules: 0.5 }, threshold: 0 },
  tasks: { color: { weights: { image: 0.5, text: 0.5 }, threshold: 0.5 } },
});

let table: TestTable;
let store: ProductStore;
let queries: CatalogQueries;
let sequence = 0;
const seq = () => normalizeSequencer((++sequence).toString(16).toUpperCase().padStart(8, '0'));

/** A product with one image and a product.json, both predicting `color` and `pattern`. */
const addProduct = async (vendor: string, productId: string, color: Record<string, number>, pattern: Record<string, number>, title = `${productId} title`) => {
  await store.completeSource({ vendor, productId, kind: 'image', name: 'a.jpg' }, seq(), { status: 'tagged', predictions: { color, pattern }, views: ['downsampled', 'center'] }, `${vendor}/${productId}/images/a.jpg`);
  await store.completeSource({ vendor, productId, kind: 'text' }, seq(), { status: 'tagged', predictions: { color, pattern }, text: title, document: JSON.stringify({ title }) }, `${vendor}/${productId}/product.json`);
  await store.merge(vendor, productId);
};

const ids = (items: readonly { vendor: string; productId: string }[]) => items.map((i) => `${i.vendor}/${i.productId}`);

/** Every page of a listing, following the cursor. */
const allPages = async (read: (cursor?: string) => Promise<{ items: { vendor: string; productId: string }[]; nextCursor?: string }>) => {
  const out: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await read(cursor);
    out.push(...ids(page.items));
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor !== undefined && pages < 50);
  return { ids: out, pages };
};

beforeAll(async () => {
  table = await startTestTable('weft-listing-test');
  store = new ProductStore({ client: table.client, tableName: table.tableName, catalog, ensemble });
  queries = new CatalogQueries(table.client, table.tableName, catalog, store.catalogIndex);
  await addProduct('acme', 'dress-red-striped', { red: 0.9, blue: 0.1 }, { striped: 0.8, solid: 0.2 }, 'Red striped dress');
  await addProduct('acme', 'dress-red-solid', { red: 0.8, blue: 0.2 }, { solid: 0.9, striped: 0.1 });
  await addProduct('acme', 'unsure', { red: 0.45, blue: 0.4, green: 0.15 }, { solid: 0.55, striped: 0.45 });
  await addProduct('bazaar', 'blue-striped', { blue: 0.95, red: 0.05 }, { striped: 0.7, solid: 0.3 });
  await addProduct('bazaar', 'red-striped', { red: 0.6, blue: 0.4 }, { striped: 0.9, solid: 0.1 });
  await addProduct('northwind', 'green', { green: 0.7, red: 0.3 }, { solid: 0.6, striped: 0.4 });
  // One that failed: its image was refused.
  await store.completeSource({ vendor: 'northwind', productId: 'broken', kind: 'image', name: 'a.jpg' }, seq(), { status: 'error', error: { code: 'corrupt_image', message: 'bad' } }, 'northwind/broken/images/a.jpg');
  await store.merge('northwind', 'broken');
});

afterAll(async () => {
  await table?.stop();
});

describe('listing', () => {
  it('lists every product, vendor after vendor, in pages that follow the cursor', async () => {
    const { ids: listed, pages } = await allPages((cursor) => queries.listProducts({}, { limit: 2, ...(cursor ? { cursor } : {}) }));
    expect(listed).toEqual(['acme/dress-red-solid', 'acme/dress-red-striped', 'acme/unsure', 'bazaar/blue-striped', 'bazaar/red-striped', 'northwind/broken', 'northwind/green']);
    expect(pages).toBe(4);
  });

  it('filters by two attribute values at once, and by vendor', async () => {
    const both = await queries.listProducts({ attributes: [{ task: 'color', value: 'red' }, { task: 'pattern', value: 'striped' }] }, { limit: 50 });
    expect(ids(both.items)).toEqual(['acme/dress-red-striped', 'bazaar/red-striped']);
    expect(both.nextCursor).toBeUndefined();
    const ofVendor = await queries.listProducts({ vendor: 'bazaar', attributes: [{ task: 'pattern', value: 'striped' }] }, { limit: 50 });
    expect(ids(ofVendor.items)).toEqual(['bazaar/blue-striped', 'bazaar/red-striped']);
    const vendorOnly = await queries.listProducts({ vendor: 'northwind' }, { limit: 50 });
    expect(ids(vendorOnly.items)).toEqual(['northwind/broken', 'northwind/green']);
  });

  it('filters by abstained, by status and by confidence below a threshold', async () => {
    expect(ids((await queries.listProducts({ abstained: ['color'] }, { limit: 50 })).items)).toEqual(['acme/unsure']);
    expect(ids((await queries.listProducts({ status: 'error' }, { limit: 50 })).items)).toEqual(['northwind/broken']);
    const low = await queries.listProducts({ confidenceBelow: { task: 'color', threshold: 0.7 } }, { limit: 50 });
    // Ascending by confidence bucket: 0.45 (unsure), 0.6 (red-striped); 0.7 itself is not below 0.7.
    expect(ids(low.items)).toEqual(['acme/unsure', 'bazaar/red-striped']);
    const lowOfVendor = await queries.listProducts({ vendor: 'acme', confidenceBelow: { task: 'color', threshold: 0.85 } }, { limit: 50 });
    expect(ids(lowOfVendor.items)).toEqual(['acme/unsure', 'acme/dress-red-solid']);
  });

  it('shows what the grid needs: title, thumbnail, status and each attribute with its confidence', async () => {
    const page = await queries.listProducts({ vendor: 'acme', attributes: [{ task: 'pattern', value: 'striped' }] }, { limit: 50 });
    expect(page.items).toEqual([
      {
        vendor: 'acme',
        productId: 'dress-red-striped',
        title: 'Red striped dress',
        status: 'tagged',
        thumbnail: 'derived/acme/dress-red-striped/images/a.jpg/downsampled',
        attributes: { color: { value: 'red', confidence: 0.9, corrected: false }, pattern: { value: 'striped', confidence: 0.8, corrected: false } },
        updatedAt: expect.any(String),
      },
    ]);
  });

  it('counts the whole catalog per vendor, status, value, abstained and confidence bin', async () => {
    const { facets } = await queries.facets();
    expect(facets.products).toBe(7);
    expect(facets.vendors).toEqual({ acme: 3, bazaar: 2, northwind: 2 });
    expect(facets.status).toEqual({ tagged: 6, error: 1 });
    expect(facets.values.color).toEqual({ red: 3, blue: 1, green: 1 });
    expect(facets.values.pattern).toEqual({ striped: 3, solid: 3 });
    expect(facets.abstained).toEqual({ color: 1 });
    expect(facets.confidence.color).toEqual([0, 0, 0, 0, 1, 0, 1, 1, 1, 2]);
  });

  it('reads only with Queries on keys: no Scan', async () => {
    const sent: string[] = [];
    const original = table.client.send.bind(table.client);
    const spy = Object.assign(Object.create(table.client), { send: (command: { constructor: { name: string } }, ...rest: unknown[]) => (sent.push(command.constructor.name), (original as any)(command, ...rest)) });
    const spied = new CatalogQueries(spy, table.tableName, catalog, new ProductStore({ client: spy, tableName: table.tableName, catalog, ensemble }).catalogIndex);
    await spied.listProducts({ attributes: [{ task: 'color', value: 'red' }, { task: 'pattern', value: 'striped' }], status: 'tagged' }, { limit: 10 });
    await spied.listProducts({}, { limit: 10 });
    await spied.reviewQueue('color', { limit: 10 });
    expect(new Set(sent)).toEqual(new Set(['QueryCommand', 'BatchGetCommand']));
    expect(sent).not.toContain(ScanCommand.name);
  });

  it('refuses a cursor of another query, or one edited by hand', async () => {
    const first = await queries.listProducts({ attributes: [{ task: 'color', value: 'red' }] }, { limit: 1 });
    expect(first.nextCursor).toBeDefined();
    await expect(queries.listProducts({ attributes: [{ task: 'color', value: 'blue' }] }, { limit: 1, cursor: first.nextCursor! })).rejects.toThrow(InvalidCursorError);
    const key = JSON.parse(Buffer.from(first.nextCursor!, 'base64url').toString('utf8')) as Record<string, string>;
    const edited = Buffer.from(JSON.stringify({ ...key, pk: 'P#other#x' })).toString('base64url');
    await expect(queries.listProducts({ attributes: [{ task: 'color', value: 'red' }] }, { limit: 1, cursor: edited })).rejects.toThrow(InvalidCursorError);
    const second = await queries.listProducts({ attributes: [{ task: 'color', value: 'red' }] }, { limit: 1, cursor: first.nextCursor! });
    expect(second.items).toHaveLength(1);
    expect(ids(second.items)).not.toEqual(ids(first.items));
  });
});

describe('review queue', () => {
  it('orders a task by margin, lowest first, per vendor too', async () => {
    const queue = await queries.reviewQueue('color', { limit: 3 });
    expect(ids(queue.items)).toEqual(['acme/unsure', 'bazaar/red-striped', 'northwind/green']);
    expect(queue.items[0]).toMatchObject({ task: 'color', value: null, confidence: 0.45, margin: 0.05, candidates: [{ value: 'red', p: 0.45 }, { value: 'blue', p: 0.4 }, { value: 'green', p: 0.15 }] });
    expect(queue.nextCursor).toBeDefined();
    const rest = await queries.reviewQueue('color', { limit: 10, cursor: queue.nextCursor! });
    expect(ids(rest.items)).toEqual(['acme/dress-red-solid', 'acme/dress-red-striped', 'bazaar/blue-striped']);
    expect(ids((await queries.reviewQueue('color', { vendor: 'bazaar', limit: 10 })).items)).toEqual(['bazaar/red-striped', 'bazaar/blue-striped']);
  });
});

describe('counts and indexes follow changes', () => {
  it('a correction moves the value counts, leaves the review queue and the abstained list, and undoing it returns', async () => {
    await store.putCorrection('acme', 'unsure', 'color', 'green');
    await store.merge('acme', 'unsure');
    let { facets } = await queries.facets();
    expect(facets.values.color).toEqual({ red: 3, blue: 1, green: 2 });
    expect(facets.abstained).toEqual({});
    // The histogram counts the models' confidence only.
    expect(facets.confidence.color!.reduce((a, b) => a + b, 0)).toBe(5);
    expect(ids((await queries.reviewQueue('color', { limit: 10 })).items)).not.toContain('acme/unsure');
    expect(ids((await queries.listProducts({ abstained: ['color'] }, { limit: 50 })).items)).toEqual([]);
    const listed = await queries.listProducts({ attributes: [{ task: 'color', value: 'green' }] }, { limit: 50 });
    expect(listed.items.find((i) => i.productId === 'unsure')?.attributes.color).toEqual({ value: 'green', confidence: 1, corrected: true });

    await store.deleteCorrection('acme', 'unsure', 'color');
    await store.merge('acme', 'unsure');
    ({ facets } = await queries.facets());
    expect(facets.values.color).toEqual({ red: 3, blue: 1, green: 1 });
    expect(facets.abstained).toEqual({ color: 1 });
    expect(ids((await queries.reviewQueue('color', { limit: 1 })).items)).toEqual(['acme/unsure']);
  });

  it('a product whose sources are all deleted leaves the listing and every count', async () => {
    await addProduct('zeta', 'gone', { blue: 0.9, red: 0.1 }, { solid: 0.9, striped: 0.1 });
    expect((await queries.facets()).facets.vendors.zeta).toBe(1);
    await store.removeSource({ vendor: 'zeta', productId: 'gone', kind: 'image', name: 'a.jpg' }, seq(), 'zeta/gone/images/a.jpg');
    await store.removeSource({ vendor: 'zeta', productId: 'gone', kind: 'text' }, seq(), 'zeta/gone/product.json');
    await store.merge('zeta', 'gone');
    const { facets } = await queries.facets();
    expect(facets.vendors.zeta).toBeUndefined();
    expect(facets.products).toBe(7);
    expect(facets.values.color?.blue).toBe(1);
    expect(ids((await queries.listProducts({ vendor: 'zeta' }, { limit: 50 })).items)).toEqual([]);
    expect(ids((await queries.listProducts({}, { limit: 50 })).items)).not.toContain('zeta/gone');
    expect(ids((await queries.reviewQueue('color', { limit: 50 })).items)).not.toContain('zeta/gone');
  });

  it('an unchanged merge moves no counter, and a merge whose index writes were lost repairs them', async () => {
    const before = await queries.facets();
    expect(await store.merge('bazaar', 'red-striped')).toMatchObject({ changed: false });
    expect((await queries.facets()).facets).toEqual(before.facets);
    // Drop the review entries, as a crash between the product write and the index would leave them.
    const entries = await table.client.send(new QueryCommand({ TableName: table.tableName, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :idx)', ExpressionAttributeValues: { ':pk': 'P#bazaar#red-striped', ':idx': 'IDX#review' } }));
    expect(entries.Items?.length).toBe(4);
    const { DeleteCommand } = await import('@aws-sdk/lib-dynamodb');
    for (const item of entries.Items ?? []) await table.client.send(new DeleteCommand({ TableName: table.tableName, Key: { pk: item.pk, sk: item.sk } }));
    expect(ids((await queries.reviewQueue('color', { vendor: 'bazaar', limit: 10 })).items)).toEqual(['bazaar/blue-striped']);
    await store.merge('bazaar', 'red-striped');
    expect(ids((await queries.reviewQueue('color', { vendor: 'bazaar', limit: 10 })).items)).toEqual(['bazaar/red-striped', 'bazaar/blue-striped']);
  });

  it('a product item written before the listing existed is listed and counted once it is merged again', async () => {
    const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
    await addProduct('legacy', 'old', { red: 0.9, blue: 0.1 }, { solid: 0.9, striped: 0.1 });
    const current = await store.getProductItem('legacy', 'old');
    const { status: _s, title: _t, thumbnail: _th, ranking: _r, facets: _f, listingVersions: _l, gsi1pk: _g, gsi1sk: _gs, ...old } = current as unknown as Record<string, unknown>;
    await table.client.send(new PutCommand({ TableName: table.tableName, Item: old }));
    // Its counts as they were before: the product item counted nowhere.
    const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    const scan = await table.client.send(new ScanCommand({ TableName: table.tableName, FilterExpression: 'begins_with(pk, :f)', ExpressionAttributeValues: { ':f': 'FACETS#' } }));
    for (const counter of scan.Items ?? []) {
      if (String(counter.sk) === 'vendor#legacy') await table.client.send(new UpdateCommand({ TableName: table.tableName, Key: { pk: counter.pk, sk: counter.sk }, UpdateExpression: 'ADD #c :m', ExpressionAttributeNames: { '#c': 'count' }, ExpressionAttributeValues: { ':m': -Number(counter.count) } }));
    }
    expect(await store.merge('legacy', 'old')).toMatchObject({ changed: true });
    expect((await queries.facets()).facets.vendors.legacy).toBe(1);
    expect(ids((await queries.listProducts({ vendor: 'legacy' }, { limit: 5 })).items)).toEqual(['legacy/old']);
  });
});

describe('pure parts', () => {
  it('buckets scores in hundredths and ranks the combined distribution', () => {
    expect([0, 0.009, 0.29, 0.5, 0.999, 1].map(bucketKey)).toEqual(['000', '000', '028', '050', '099', '100']);
    const ranking = rankTasks([{ id: 'text', kind: 'text', predictions: { color: { red: 0.5, blue: 0.3, green: 0.2 } } }], catalog, ensemble);
    expect(ranking.color).toEqual({ margin: 0.2, top: [{ value: 'red', p: 0.5 }, { value: 'blue', p: 0.3 }, { value: 'green', p: 0.2 }] });
    expect(rankTasks([{ id: 'human', kind: 'human', predictions: { color: { red: 1 } } }], catalog, ensemble)).toEqual({});
  });

  it('counts memberships and their differences', () => {
    const attributes = { color: { value: null, confidence: 0.3, sources: {} }, pattern: { value: 'solid', confidence: 1, sources: { human: { value: 'solid', confidence: 1, weight: 1 } } } };
    const memberships = facetMemberships({ vendor: 'v', status: 'tagged', attributes });
    expect(memberships).toEqual(['vendor#v', 'status#tagged', 'abstained#color', 'confidence#color#3', 'value#pattern#solid']);
    expect(facetMemberships({ vendor: 'v', attributes })).toEqual([]);
    expect([...facetDeltas(['a', 'b'], ['b', 'c'])]).toEqual([['a', -1], ['c', 1]]);
    expect(matches({ vendor: 'v', status: 'tagged', attributes }, { abstained: ['color'], attributes: [{ task: 'pattern', value: 'solid' }] })).toBe(true);
    expect(matches({ vendor: 'v', status: 'tagged', attributes }, { confidenceBelow: { task: 'pattern', threshold: 1 } })).toBe(false);
  });
});
