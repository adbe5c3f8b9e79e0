/**
 * GET /stats through the api handler on dynalite: the catalog's counts per status, per model
 * version of each modality against the versions the handler's manifests deploy, and per vendor,
 * for the whole catalog and for one vendor; answers valid against the OpenAPI document's schema;
 * every invalid input a JSON 400.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../functions/api/openapi/document.js';
import { EnsembleConfigSchema } from '../../functions/shared/manifest.js';
import { taskCatalog } from '../../functions/shared/products/ensemble.js';
import { normalizeSequencer } from '../../functions/shared/products/keys.js';
import { ProductStore } from '../../functions/shared/products/productStore.js';
import { startTestTable, type TestTable } from './support/dynalite.js';
import { useTestEnv } from './support/env.js';
import { TEST_TASKS, writeModelsDir } from './support/models.js';

/** The versions of the handler's models folder (support/models.ts). */
const IMAGE = 'weft-image@0.0.1-test';
const TEXT = 'weft-text@0.0.1-test';
const ENSEMBLE = { schemaVersion: 1, defaults: { weights: { image: 1, text: 1, rules: 1 }, threshold: 0 } };

let table: TestTable;
let restoreEnv: () => void;
let handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
let sequence = 0;
const seq = () => normalizeSequencer((++sequence).toString(16).padStart(8, '0'));

const request = async (path: string, query?: Record<string, string>, method = 'GET') => {
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: new URLSearchParams(query ?? {}).toString(),
    headers: {},
    ...(query ? { queryStringParameters: query } : {}),
    requestContext: { http: { method, path } },
  } as unknown as APIGatewayProxyEventV2;
  const response = await handler(event);
  return { status: response.statusCode, body: JSON.parse(response.body ?? 'null') as Record<string, any> };
};

beforeAll(async () => {
  table = await startTestTable('weft-api-stats-test');
  restoreEnv = useTestEnv({ TABLE_NAME: table.tableName, WEFT_MODELS_DIR: writeModelsDir(ENSEMBLE), AWS_ENDPOINT_URL_DYNAMODB: table.endpoint, WEFT_IMAGE_URL_BASE: '/local/objects' });
  ({ handler } = await import('../../functions/api/handler.js'));
  const store = new ProductStore({ client: table.client, tableName: table.tableName, catalog: taskCatalog([{ tasks: TEST_TASKS }]), ensemble: EnsembleConfigSchema.parse(ENSEMBLE) });
  const tagged = (vendor: string, productId: string, kind: 'image' | 'text', modelVersion: string, name?: string) =>
    store.completeSource(
      { vendor, productId, kind, ...(name ? { name } : {}) },
      seq(),
      { status: 'tagged', predictions: { category: { dress: 0.9, trouser: 0.1 }, color: { red: 0.8, blue: 0.2 } }, modelVersion, ...(kind === 'text' ? { text: productId, document: JSON.stringify({ title: productId }) } : { views: ['downsampled', 'center'] }) },
      kind === 'image' ? `${vendor}/${productId}/images/${name}` : `${vendor}/${productId}/product.json`,
    );
  // acme/current: both on the deployed models; acme/old: image by an earlier model; acme/mixed: one image of each.
  await tagged('acme', 'current', 'image', IMAGE, 'front.jpg');
  await tagged('acme', 'current', 'text', TEXT);
  await tagged('acme', 'old', 'image', 'weft-image@0.0.0-old', 'front.jpg');
  await tagged('acme', 'old', 'text', TEXT);
  await tagged('acme', 'mixed', 'image', IMAGE, 'front.jpg');
  await tagged('acme', 'mixed', 'image', 'weft-image@0.0.0-old', 'back.jpg');
  // other/text-only: no image; other/broken: its image refused.
  await tagged('other', 'text-only', 'text', TEXT);
  await store.completeSource({ vendor: 'other', productId: 'broken', kind: 'image', name: 'a.jpg' }, seq(), { status: 'error', error: { code: 'corrupt_image', message: 'bad' } }, 'other/broken/images/a.jpg');
  for (const id of ['acme/current', 'acme/old', 'acme/mixed', 'other/text-only', 'other/broken']) await store.merge(id.split('/')[0]!, id.split('/')[1]!);
});

afterAll(async () => {
  restoreEnv?.();
  await table?.stop();
});

describe('GET /stats', () => {
  it('counts the catalog per status, per model version of each modality against the deployed ones, and per vendor', async () => {
    const { status, body } = await request('/stats');
    expect(status).toBe(200);
    expect(body).toEqual({
      products: 5,
      status: { tagged: 4, error: 1 },
      models: {
        image: { deployed: IMAGE, versions: { [IMAGE]: 1, 'weft-image@0.0.0-old': 1 }, mixed: 1, stale: 2, none: 2 },
        text: { deployed: TEXT, versions: { [TEXT]: 3 }, mixed: 0, stale: 0, none: 2 },
      },
      vendors: { acme: 3, other: 2 },
    });
  });

  it('restricts every count to one vendor, and answers zeros for a vendor without products', async () => {
    expect((await request('/stats', { vendor: 'other' })).body).toEqual({
      vendor: 'other',
      products: 2,
      status: { tagged: 1, error: 1 },
      models: { image: { deployed: IMAGE, versions: {}, mixed: 0, stale: 0, none: 2 }, text: { deployed: TEXT, versions: { [TEXT]: 1 }, mixed: 0, stale: 0, none: 1 } },
      vendors: { other: 2 },
    });
    expect((await request('/stats', { vendor: 'nobody' })).body).toMatchObject({ vendor: 'nobody', products: 0, status: {}, vendors: {}, models: { image: { stale: 0, none: 0 } } });
  });

  it('answers as the OpenAPI document says', async () => {
    const document = openApiDocument({ catalog: taskCatalog([{ tasks: TEST_TASKS }]), authorization: 'none' });
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ ...document, $id: 'weft-openapi' } as object);
    const validate = ajv.compile({ $ref: 'weft-openapi#/components/schemas/CatalogStats' });
    for (const query of [undefined, { vendor: 'acme' }, { vendor: 'nobody' }]) {
      const { body } = await request('/stats', query);
      expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
    }
    const operation = document.paths!['/stats']!.get!;
    expect((operation.parameters as { name: string; in: string }[]).map((p) => `${p.in} ${p.name}`)).toEqual(['query vendor']);
    expect(Object.keys(operation.responses!)).toEqual(expect.arrayContaining(['200', '400']));
  });

  it('refuses an invalid or empty vendor and any other query parameter with a JSON 400', async () => {
    const invalid: Record<string, string>[] = [{ vendor: '' }, { vendor: 'no spaces' }, { vendor: '-leading' }, { vendor: 'x'.repeat(129) }, { limit: '10' }, { task: 'color' }];
    for (const query of invalid) {
      const { status, body } = await request('/stats', query);
      expect(status, JSON.stringify(query)).toBe(400);
      expect(typeof body.message).toBe('string');
    }
    expect((await request('/stats', { limit: '10' })).body.message).toMatch(/unknown query parameter "limit": \/stats takes vendor/);
    expect((await request('/stats', undefined, 'PUT')).status).toBe(405);
    expect((await request('/stats', undefined, 'HEAD')).status).toBe(200);
  });
});
