/**
 * reindexCatalog on dynalite: products merged before the listing existed (a product item without
 * listing fields, no listing entries, no facet counts) join the listing and its counts after one
 * pass; a second pass rewrites nothing.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnsembleConfigSchema } from '../../functions/shared/manifest.js';
import { taskCatalog } from '../../functions/shared/products/ensemble.js';
import { CatalogQueries } from '../../functions/shared/products/catalogQueries.js';
import { normalizeSequencer, PRODUCT_SK, productPk } from '../../functions/shared/products/keys.js';
import { ProductStore } from '../../functions/shared/products/productStore.js';
import { reindexCatalog } from '../../functions/shared/products/reindex.js';
import { startTestTable, type TestTable } from './support/dynalite.js';

const catalog = taskCatalog([{ tasks: [{ name: 'color', labels: ['red', 'blue'] }] }]);
const ensemble = EnsembleConfigSchema.parse({ schemaVersion: 1, defaults: { weights: { image: 1, text: 1, rules: 1 }, threshold: 0 } });

let table: TestTable;
let store: ProductStore;
let queries: CatalogQueries;

/** A product as an earlier version left it: sources and a product item, nothing of the listing. */
const legacyProduct = async (vendor: string, productId: string, color: string, n: number): Promise<void> => {
  await store.completeSource({ vendor, productId, kind: 'text' }, normalizeSequencer(n.toString(16).padStart(8, '0')), {
    status: 'tagged', predictions: { color: { [color]: 0.9, [color === 'red' ? 'blue' : 'red']: 0.1 } }, text: 't', document: '{"title":"t"}',
  }, `${vendor}/${productId}/product.json`);
  await table.client.send(new PutCommand({
    TableName: table.tableName,
    Item: {
      pk: productPk(vendor, productId), sk: PRODUCT_SK, type: 'product', vendor, productId, version: 1, indexVersions: {},
      attributes: { color: { value: color, confidence: 0.9 } }, modelVersions: {}, updatedAt: '2026-01-01T00:00:00.000Z',
    },
  }));
};

beforeAll(async () => {
  table = await startTestTable('weft-reindex-test');
  store = new ProductStore({ client: table.client, tableName: table.tableName, catalog, ensemble });
  queries = new CatalogQueries(table.client, table.tableName, catalog, store.catalogIndex);
  await legacyProduct('acme', 'a', 'red', 1);
  await legacyProduct('acme', 'b', 'blue', 2);
  await legacyProduct('bazaar', 'c', 'red', 3);
});

afterAll(async () => {
  await table?.stop();
});

describe('reindexCatalog', () => {
  it('brings products merged before the listing into it and its counts, once', async () => {
    expect((await queries.listProducts({}, { limit: 10 })).items).toEqual([]);
    const progress: number[] = [];
    const first = await reindexCatalog({ client: table.client, tableName: table.tableName, store, concurrency: 2, onProgress: (p) => progress.push(p.products) });
    expect(first).toMatchObject({ products: 3, rewritten: 3, failed: 0 });
    expect(progress.at(-1)).toBe(3);
    const listed = (await queries.listProducts({}, { limit: 10 })).items.map((i) => `${i.vendor}/${i.productId}`);
    expect(listed).toEqual(['acme/a', 'acme/b', 'bazaar/c']);
    const red = await queries.listProducts({ attributes: [{ task: 'color', value: 'red' }] }, { limit: 10 });
    expect(red.items.map((i) => i.productId)).toEqual(['a', 'c']);
    const { facets } = await queries.facets();
    expect(facets.products).toBe(3);
    expect(facets.vendors).toEqual({ acme: 2, bazaar: 1 });
    expect(facets.values.color).toEqual({ red: 2, blue: 1 });

    const second = await reindexCatalog({ client: table.client, tableName: table.tableName, store });
    expect(second).toMatchObject({ products: 3, rewritten: 0, failed: 0 });
    expect((await queries.facets()).facets.products).toBe(3);
  });

  it('reports a product that cannot be merged and goes on with the others', async () => {
    const failing = { merge: async (_vendor: string, productId: string) => {
      if (productId === 'b') throw new Error('throttled');
      return { exists: true, changed: false, version: 1, attributes: {} };
    } };
    const summary = await reindexCatalog({ client: table.client, tableName: table.tableName, store: failing, vendor: 'acme' });
    expect(summary).toMatchObject({ products: 2, rewritten: 0, failed: 1, failures: ['acme/b: throttled'] });
  });
});
