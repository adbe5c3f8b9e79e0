/**
 * The lookup API with the taxonomy mapping: taxonomy ids per attribute (existing fields as they
 * were), colors for each audience with provenance, and schema.org JSON-LD by Accept header or
 * `?format=jsonld` — through the Lambda handler on dynalite.
 */
import { resolve } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnsembleConfigSchema } from '../../functions/shared/manifest.js';
import { taskCatalog } from '../../functions/shared/products/ensemble.js';
import { normalizeSequencer } from '../../functions/shared/products/keys.js';
import { ProductStore } from '../../functions/shared/products/productStore.js';
import { startTestTable, type TestTable } from './support/dynalite.js';
import { useTestEnv } from './support/env.js';
import { TEST_TASKS, writeModelsDir } from './support/models.js';

const MAPPING = resolve(import.meta.dirname, '../../models/artifacts/taxonomy.json');

let table: TestTable;
let restoreEnv: () => void;
let handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
let store: ProductStore;

const request = async (method: string, path: string, options: { query?: Record<string, string>; headers?: Record<string, string>; body?: string } = {}) => {
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    headers: options.headers ?? {},
    ...(options.query ? { queryStringParameters: options.query } : {}),
    requestContext: { http: { method, path } },
    ...(options.body !== undefined ? { body: options.body, isBase64Encoded: false } : {}),
  } as unknown as APIGatewayProxyEventV2;
  const response = await handler(event);
  return { status: response.statusCode, headers: response.headers ?? {}, body: JSON.parse(response.body ?? 'null') as Record<string, any> };
};

beforeAll(async () => {
  table = await startTestTable('weft-api-taxonomy-test');
  const modelsDir = writeModelsDir();
  restoreEnv = useTestEnv({ TABLE_NAME: table.tableName, WEFT_MODELS_DIR: modelsDir, WEFT_TAXONOMY_FILE: MAPPING, AWS_ENDPOINT_URL_DYNAMODB: table.endpoint });
  ({ handler } = await import('../../functions/api/handler.js'));
  store = new ProductStore({
    client: table.client,
    tableName: table.tableName,
    catalog: taskCatalog([{ tasks: TEST_TASKS }]),
    ensemble: EnsembleConfigSchema.parse({ schemaVersion: 1, defaults: { weights: { image: 1, text: 1, rules: 1 } } }),
  });
  const seq = normalizeSequencer('01');
  await store.putSource({ vendor: 'acme', productId: 'tee-1', kind: 'text' }, seq, 'acme/tee-1/product.json', {
    status: 'tagged',
    predictions: { category: { tshirt_top: 0.9, dress: 0.1 }, color: { red: 0.8, blue: 0.2 } },
    modelVersion: 'weft-text@0.0.1-test',
    text: 'Ruby tee',
    vendorColor: { raw: '  Ruby ', normalized: 'red' },
  });
  await store.merge('acme', 'tee-1');
  await store.putSource({ vendor: 'acme', productId: 'odd-2', kind: 'text' }, seq, 'acme/odd-2/product.json', {
    status: 'tagged',
    predictions: { category: { trouser: 0.4, dress: 0.35, tshirt_top: 0.25 }, color: { black: 0.5, white: 0.5 } },
    vendorColor: { raw: 'Assorted', normalized: 'multicolor' },
  });
  await store.merge('acme', 'odd-2');
});

afterAll(async () => {
  restoreEnv();
  await table.stop();
});

describe('api with the taxonomy mapping', () => {
  it('adds taxonomy ids to each mapped attribute and leaves the existing fields as they were', async () => {
    const { status, headers, body } = await request('GET', '/products/acme/tee-1');
    expect(status).toBe(200);
    expect(headers['content-type']).toMatch(/^application\/json/);
    expect(body.attributes.category.taxonomy).toEqual({
      shopify: { id: 'gid://shopify/TaxonomyCategory/aa-1-13-8', name: 'T-Shirts', fullName: 'Apparel & Accessories > Clothing > Clothing Tops > T-Shirts' },
      google: { id: '212', path: 'Apparel & Accessories > Clothing > Shirts & Tops' },
    });
    expect(body.attributes.color.taxonomy).toEqual({ shopify: { id: 'gid://shopify/TaxonomyValue/13', handle: 'color__red', name: 'Red' } });
    expect(body.taxonomy).toEqual({ shopify: '2026-08', google: '2021-09-21' });
    const plain = (await store.getProduct('acme', 'tee-1'))!;
    for (const [task, attribute] of Object.entries(plain.attributes)) {
      const { taxonomy: _ids, ...rest } = body.attributes[task];
      expect(rest).toEqual(attribute);
    }
    const { attributes: _a, colors: _c, taxonomy: _t, ...others } = body;
    const { attributes: _b, ...plainOthers } = plain;
    expect(others).toEqual(plainOthers);
  });

  it('keeps the color family and the vendor name apart, with provenance', async () => {
    const { body } = await request('GET', '/products/acme/tee-1');
    expect(body.colors).toEqual({
      family: { value: 'red', name: 'Red', confidence: expect.any(Number), source: 'models' },
      vendor: { name: 'Ruby', family: 'red' },
      google: { value: 'Ruby', from: 'vendor' },
    });
  });

  it('invents no color when the models abstain and the vendor names no single color', async () => {
    const { body } = await request('GET', '/products/acme/odd-2');
    // ensemble.json of the test models: color abstains below 0.3 … black and white tie at 0.5, so
    // the family is set; the category (no threshold) too. What Google gets must be a color name.
    expect(body.colors.vendor).toEqual({ name: 'Assorted', family: 'multicolor' });
    expect(body.colors.google).toEqual({ value: body.colors.family.name, from: 'family' });
  });

  it('a human correction wins over the vendor name for Google', async () => {
    const put = await request('PUT', '/products/acme/tee-1/attributes/color', { body: JSON.stringify({ value: 'blue' }) });
    expect(put.status).toBe(200);
    expect(put.body.attributes.color.taxonomy.shopify.handle).toBe('color__blue');
    expect(put.body.colors).toMatchObject({ family: { value: 'blue', source: 'human', confidence: 1 }, vendor: { name: 'Ruby', family: 'red' }, google: { value: 'Blue', from: 'family' } });
    const del = await request('DELETE', '/products/acme/tee-1/attributes/color');
    expect(del.body.colors.google).toEqual({ value: 'Ruby', from: 'vendor' });
  });

  it.each([
    ['the Accept header', { headers: { accept: 'application/ld+json' } }],
    ['an Accept header that ranks it first', { headers: { accept: 'application/json;q=0.5, application/ld+json' } }],
    ['?format=jsonld', { query: { format: 'jsonld' } }],
  ])('answers schema.org JSON-LD when asked by %s', async (_how, options) => {
    const { status, headers, body } = await request('GET', '/products/acme/tee-1', options);
    expect(status).toBe(200);
    expect(headers['content-type']).toBe('application/ld+json; charset=utf-8');
    expect(headers.vary).toBe('accept');
    expect(body).toMatchObject({
      '@context': 'https://schema.org',
      '@type': 'Product',
      productID: 'acme/tee-1',
      category: 'Apparel & Accessories > Clothing > Shirts & Tops',
      color: 'Ruby',
    });
  });

  it('answers JSON when JSON ranks higher, and 400 for an unknown format', async () => {
    expect((await request('GET', '/products/acme/tee-1', { headers: { accept: 'application/ld+json;q=0.2, application/json' } })).body.attributes).toBeDefined();
    const bad = await request('GET', '/products/acme/tee-1', { query: { format: 'xml' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ message: 'format must be json or jsonld' });
  });
});

describe('api without a taxonomy mapping', () => {
  it('serves attributes without taxonomy ids', async () => {
    // Another models folder: the handler's configuration (cached per models folder) is read afresh.
    const restore = useTestEnv({ TABLE_NAME: table.tableName, AWS_ENDPOINT_URL_DYNAMODB: table.endpoint, WEFT_MODELS_DIR: writeModelsDir(), WEFT_TAXONOMY_FILE: '' });
    try {
      const { status, body } = await request('GET', '/products/acme/tee-1');
      expect(status).toBe(200);
      expect(body.attributes.category.taxonomy).toBeUndefined();
      expect(body.colors).toBeUndefined();
    } finally {
      restore();
    }
  });
});
