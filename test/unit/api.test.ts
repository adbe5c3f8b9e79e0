import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnsembleConfigSchema } from '../../functions/shared/manifest.js';
import { taskCatalog } from '../../functions/shared/products/ensemble.js';
import { normalizeSequencer } from '../../functions/shared/products/keys.js';
import { ProductStore } from '../../functions/shared/products/productStore.js';
import { startTestTable, type TestTable } from './support/dynalite.js';
import { useTestEnv } from './support/env.js';
import { TEST_TASKS, writeModelsDir } from './support/models.js';

let table: TestTable;
let restoreEnv: () => void;
let handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
let store: ProductStore;

const request = async (method: string, path: string, options: { query?: Record<string, string>; body?: string } = {}) => {
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    headers: {},
    ...(options.query ? { queryStringParameters: options.query } : {}),
    requestContext: { http: { method, path } },
    ...(options.body !== undefined ? { body: options.body, isBase64Encoded: false } : {}),
  } as unknown as APIGatewayProxyEventV2;
  const response = await handler(event);
  return { status: response.statusCode, body: JSON.parse(response.body ?? 'null') as Record<string, any> };
};

beforeAll(async () => {
  table = await startTestTable('weft-api-test');
  restoreEnv = useTestEnv({ TABLE_NAME: table.tableName, WEFT_MODELS_DIR: writeModelsDir(), AWS_ENDPOINT_URL_DYNAMODB: table.endpoint });
  // Imported after the environment is set, as the local runtime does.
  ({ handler } = await import('../../functions/api/handler.js'));
  store = new ProductStore({
    client: table.client,
    tableName: table.tableName,
    catalog: taskCatalog([{ tasks: TEST_TASKS }]),
    ensemble: EnsembleConfigSchema.parse({ schemaVersion: 1, defaults: { weights: { image: 1, text: 1, rules: 1 } } }),
  });
  const seq = normalizeSequencer('01');
  await store.beginSource({ vendor: 'acme', productId: 'tee-1', kind: 'image', name: 'front.jpg' }, seq, 'acme/tee-1/images/front.jpg');
  await store.completeSource({ vendor: 'acme', productId: 'tee-1', kind: 'image', name: 'front.jpg' }, seq, {
    status: 'tagged',
    predictions: { category: { tshirt_top: 0.9, trouser: 0.05, dress: 0.05 }, color: { red: 0.7, blue: 0.3 } },
    modelVersion: 'weft-image@0.0.1-test',
  });
  await store.putSource({ vendor: 'acme', productId: 'tee-1', kind: 'text' }, seq, 'acme/tee-1/product.json', {
    status: 'tagged',
    predictions: { category: { tshirt_top: 1 }, color: { red: 1 } },
    modelVersion: 'weft-text@0.0.1-test',
    text: 'Ruby tee',
    vendorColor: { raw: 'Ruby', normalized: 'red' },
  });
  await store.merge('acme', 'tee-1');
  await store.putSource({ vendor: 'other', productId: 'tee-2', kind: 'text' }, seq, 'other/tee-2/product.json', { status: 'tagged', predictions: { category: { tshirt_top: 1 } } });
  await store.merge('other', 'tee-2');
  await store.recordRejection({ key: 'stray.jpg', code: 'outside_layout', reason: 'key must be …', eventTime: '2026-11-28T00:00:00.000Z' });
});

afterAll(async () => {
  restoreEnv();
  await table.stop();
});

describe('api', () => {
  it('implements exactly the routes the HTTP API declares', async () => {
    const { API_ROUTES } = await import('../../functions/api/routeTable.js');
    const { IMPLEMENTED_ROUTES } = await import('../../functions/api/routes.js');
    const key = (r: { method: string; path: string }) => `${r.method} ${r.path}`;
    expect(IMPLEMENTED_ROUTES.map(key).sort()).toEqual(API_ROUTES.map(key).sort());
  });

  it('reports health with model versions', async () => {
    const { status, body } = await request('GET', '/health');
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', modelVersions: { image: 'weft-image@0.0.1-test', text: 'weft-text@0.0.1-test' } });
  });

  it('returns a product with per-source breakdown, vendor color and statuses', async () => {
    const { status, body } = await request('GET', '/products/acme/tee-1');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      vendor: 'acme',
      productId: 'tee-1',
      images: [{ key: 'acme/tee-1/images/front.jpg', status: 'tagged' }],
      text: { status: 'tagged' },
      vendorColor: { raw: 'Ruby', normalized: 'red' },
      modelVersions: { image: 'weft-image@0.0.1-test', text: 'weft-text@0.0.1-test' },
    });
    expect(body.attributes.category).toMatchObject({ value: 'tshirt_top', sources: { 'image:front.jpg': { value: 'tshirt_top' }, text: { value: 'tshirt_top' } } });
    expect(typeof body.updatedAt).toBe('string');
  });

  it('404s an unknown product and an unknown route with a JSON message', async () => {
    expect(await request('GET', '/products/acme/nope')).toMatchObject({ status: 404, body: { message: expect.stringContaining('not found') } });
    expect(await request('GET', '/nothing/here')).toMatchObject({ status: 404, body: { message: expect.any(String) } });
    expect(await request('POST', '/health')).toMatchObject({ status: 405 });
    expect(await request('GET', '/products/bad%20vendor/x')).toMatchObject({ status: 400 });
  });

  it('finds products by attribute, per vendor, with paging', async () => {
    const all = await request('GET', '/attributes/category/tshirt_top');
    expect(all.body.items.map((i: { productId: string }) => i.productId).sort()).toEqual(['tee-1', 'tee-2']);
    const acme = await request('GET', '/attributes/category/tshirt_top', { query: { vendor: 'acme' } });
    expect(acme.body).toEqual({ items: [{ vendor: 'acme', productId: 'tee-1', confidence: expect.any(Number) }] });
    const page = await request('GET', '/attributes/category/tshirt_top', { query: { limit: '1' } });
    expect(page.body.items).toHaveLength(1);
    const next = await request('GET', '/attributes/category/tshirt_top', { query: { limit: '1', cursor: page.body.nextCursor } });
    expect(next.body.items).toHaveLength(1);
    expect(next.body.items[0].productId).not.toBe(page.body.items[0].productId);
    expect(await request('GET', '/attributes/category/tshirt_top', { query: { limit: '0' } })).toMatchObject({ status: 400 });
    expect(await request('GET', '/attributes/category/tshirt_top', { query: { cursor: 'garbage' } })).toMatchObject({ status: 400 });
    expect(await request('GET', '/attributes/sleeve/long')).toMatchObject({ status: 404 });
    expect(await request('GET', '/attributes/color/chartreuse')).toMatchObject({ status: 404 });
  });

  it('lists rejections', async () => {
    const { body } = await request('GET', '/rejections', { query: { limit: '5' } });
    expect(body.items).toContainEqual(expect.objectContaining({ key: 'stray.jpg', code: 'outside_layout' }));
  });

  it('applies, exports and removes a human correction', async () => {
    const before = new Date(Date.now() - 1000).toISOString();
    expect(await request('PUT', '/products/acme/tee-1/attributes/color', { body: '{"value":"chartreuse"}' })).toMatchObject({ status: 400 });
    expect(await request('PUT', '/products/acme/tee-1/attributes/color', { body: 'not json' })).toMatchObject({ status: 400 });
    expect(await request('PUT', '/products/acme/missing/attributes/color', { body: '{"value":"green"}' })).toMatchObject({ status: 404 });
    expect(await request('PUT', '/products/acme/tee-1/attributes/sleeve', { body: '{"value":"long"}' })).toMatchObject({ status: 404 });

    const put = await request('PUT', '/products/acme/tee-1/attributes/color', { body: '{"value":"green"}' });
    expect(put.status).toBe(200);
    expect(put.body.attributes.color).toMatchObject({ value: 'green', confidence: 1, sources: { human: { value: 'green' } } });
    expect(put.body.corrections).toEqual({ color: 'green' });
    const indexed = await request('GET', '/attributes/color/green', { query: { vendor: 'acme' } });
    expect(indexed.body.items.map((i: { productId: string }) => i.productId)).toEqual(['tee-1']);

    const exported = await request('GET', '/corrections', { query: { since: before } });
    expect(exported.body.items).toEqual([
      expect.objectContaining({ vendor: 'acme', productId: 'tee-1', labels: { color: 'green' }, images: ['acme/tee-1/images/front.jpg'], text: 'Ruby tee' }),
    ]);
    expect(await request('GET', '/corrections', { query: { since: 'yesterday-ish' } })).toMatchObject({ status: 400 });

    const removed = await request('DELETE', '/products/acme/tee-1/attributes/color');
    expect(removed.status).toBe(200);
    expect(removed.body.attributes.color.value).toBe('red');
    expect(await request('DELETE', '/products/acme/tee-1/attributes/color')).toMatchObject({ status: 404 });
    expect((await request('GET', '/attributes/color/green', { query: { vendor: 'acme' } })).body.items).toEqual([]);
  });
});
