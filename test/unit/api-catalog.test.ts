/**
 * The console's routes through the api handler on dynalite: the listing's filters and facets, the
 * review queue and accepting from it, the tasks, a product's evidence with loadable addresses, the
 * calibration drawn from corrections, and every invalid input refused with a JSON 400.
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attributeFilters } from '../../functions/api/catalogRoutes.js';
import { presignedImageUrls, servedImageUrls } from '../../functions/api/imageUrls.js';
import { EnsembleConfigSchema } from '../../functions/shared/manifest.js';
import { calibrate } from '../../functions/shared/products/calibration.js';
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
let sequence = 0;
/** The handler's models folder and the seeding store combine alike. */
const ENSEMBLE = { schemaVersion: 1, defaults: { weights: { image: 1, text: 1, rules: 1 }, threshold: 0 } };
const seq = () => normalizeSequencer((++sequence).toString(16).padStart(8, '0'));

const request = async (method: string, path: string, options: { query?: Record<string, string>; body?: unknown } = {}) => {
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    headers: {},
    ...(options.query ? { queryStringParameters: options.query } : {}),
    requestContext: { http: { method, path } },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body), isBase64Encoded: false } : {}),
  } as unknown as APIGatewayProxyEventV2;
  const response = await handler(event);
  return { status: response.statusCode, body: JSON.parse(response.body ?? 'null') as Record<string, any> };
};

const addProduct = async (vendor: string, productId: string, category: Record<string, number>, color: Record<string, number>, title: string) => {
  await store.completeSource({ vendor, productId, kind: 'image', name: 'front.jpg' }, seq(), { status: 'tagged', predictions: { category, color }, views: ['downsampled', 'center'] }, `${vendor}/${productId}/images/front.jpg`);
  await store.completeSource(
    { vendor, productId, kind: 'text' },
    seq(),
    { status: 'tagged', predictions: { category, color }, text: `${title}\nclean text`, document: JSON.stringify({ title, description: '<b>raw</b> text' }) },
    `${vendor}/${productId}/product.json`,
  );
  await store.merge(vendor, productId);
};

const ids = (items: readonly { vendor: string; productId: string }[]) => items.map((i) => `${i.vendor}/${i.productId}`);

beforeAll(async () => {
  table = await startTestTable('weft-api-catalog-test');
  restoreEnv = useTestEnv({ TABLE_NAME: table.tableName, WEFT_MODELS_DIR: writeModelsDir(ENSEMBLE), AWS_ENDPOINT_URL_DYNAMODB: table.endpoint, WEFT_IMAGE_URL_BASE: '/local/objects' });
  ({ handler } = await import('../../functions/api/handler.js'));
  store = new ProductStore({
    client: table.client,
    tableName: table.tableName,
    catalog: taskCatalog([{ tasks: TEST_TASKS }]),
    ensemble: EnsembleConfigSchema.parse(ENSEMBLE),
  });
  await addProduct('acme', 'red-dress', { dress: 0.9, trouser: 0.1 }, { red: 0.8, blue: 0.2 }, 'Red dress');
  await addProduct('acme', 'blue-dress', { dress: 0.7, trouser: 0.3 }, { blue: 0.9, red: 0.1 }, 'Blue dress');
  await addProduct('acme', 'red-tee', { tshirt_top: 0.55, dress: 0.45 }, { red: 0.6, black: 0.4 }, 'Red tee');
  await addProduct('other', 'red-dress', { dress: 0.8, tshirt_top: 0.2 }, { red: 0.95, blue: 0.05 }, 'Another red dress');
});

afterAll(async () => {
  restoreEnv?.();
  await table?.stop();
});

describe('GET /products', () => {
  it('filters by two attribute values and a vendor, with catalog-wide facets and thumbnail addresses', async () => {
    const { status, body } = await request('GET', '/products', { query: { attribute: 'category:dress,color:red' } });
    expect(status).toBe(200);
    expect(ids(body.items)).toEqual(['acme/red-dress', 'other/red-dress']);
    expect(body.items[0]).toMatchObject({
      title: 'Red dress',
      status: 'tagged',
      thumbnail: 'derived/acme/red-dress/images/front.jpg/downsampled',
      thumbnailUrl: '/local/objects/derived/acme/red-dress/images/front.jpg/downsampled',
      attributes: { category: { value: 'dress', corrected: false }, color: { value: 'red', corrected: false } },
    });
    expect(body.facets).toMatchObject({ products: 4, vendors: { acme: 3, other: 1 }, status: { tagged: 4 }, values: { category: { dress: 3, tshirt_top: 1 }, color: { red: 3, blue: 1 } } });
    const vendor = await request('GET', '/products', { query: { vendor: 'acme', attribute: 'color:red' } });
    expect(ids(vendor.body.items)).toEqual(['acme/red-dress', 'acme/red-tee']);
  });

  it('filters by confidence below a threshold, by status, and pages with the cursor', async () => {
    const low = await request('GET', '/products', { query: { confidenceTask: 'category', confidenceBelow: '0.75' } });
    expect(ids(low.body.items)).toEqual(['acme/red-tee', 'acme/blue-dress']);
    expect(ids((await request('GET', '/products', { query: { status: 'error' } })).body.items)).toEqual([]);
    const first = await request('GET', '/products', { query: { limit: '3' } });
    expect(first.body.items).toHaveLength(3);
    const second = await request('GET', '/products', { query: { limit: '3', cursor: first.body.nextCursor } });
    expect(ids(second.body.items)).toEqual(['other/red-dress']);
    expect(second.body.nextCursor).toBeUndefined();
  });

  it('refuses invalid filters with a JSON 400 that says what is wrong', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ attribute: 'fabric:silk' }, /known task/],
      [{ attribute: 'color:purple' }, /unknown label "purple"/],
      [{ attribute: 'red' }, /\{task\}:\{label\}/],
      [{ abstained: 'size' }, /unknown task "size"/],
      [{ confidenceBelow: '0.5' }, /go together/],
      [{ confidenceBelow: '2', confidenceTask: 'color' }, /at most 1/],
      [{ confidenceBelow: '', confidenceTask: 'color' }, /above 0/],
      [{ status: 'lost' }, /status must be one of/],
      [{ vendor: 'a/b' }, /invalid vendor/],
      [{ limit: '0' }, /limit/],
      [{ cursor: 'bm9wZQ' }, /cursor/],
      [{ colour: 'red' }, /unknown query parameter "colour"/],
    ];
    for (const [query, message] of cases) {
      const { status, body } = await request('GET', '/products', { query });
      expect(status, JSON.stringify(query)).toBe(400);
      expect(body.message, JSON.stringify(query)).toMatch(message);
    }
  });

  it('splits repeated attributes, joined by commas, only before a known task', () => {
    const catalog = { color: ['red', 'a,b'], category: ['dress'] };
    expect(attributeFilters(catalog, 'color:a,b,category:dress')).toEqual([{ task: 'color', value: 'a,b' }, { task: 'category', value: 'dress' }]);
  });
});

describe('GET /review and accepting from it', () => {
  it('orders by margin, accepting records the models’ answer as a correction, and the product leaves the queue', async () => {
    const queue = await request('GET', '/review', { query: { task: 'category' } });
    expect(queue.status).toBe(200);
    expect(ids(queue.body.items)).toEqual(['acme/red-tee', 'acme/blue-dress', 'other/red-dress', 'acme/red-dress']);
    const top = queue.body.items[0];
    expect(top).toMatchObject({ task: 'category', value: 'tshirt_top', margin: 0.1, candidates: [{ value: 'tshirt_top', p: 0.55 }, { value: 'dress', p: 0.45 }, { value: 'trouser', p: 0 }], thumbnailUrl: expect.stringMatching(/^\/local\/objects\//) });
    // Accept: the models' best label as a human correction.
    const accepted = await request('PUT', `/products/${top.vendor}/${top.productId}/attributes/category`, { body: { value: top.candidates[0].value } });
    expect(accepted.status).toBe(200);
    expect(accepted.body.attributes.category).toMatchObject({ value: 'tshirt_top', confidence: 1 });
    expect(ids((await request('GET', '/review', { query: { task: 'category' } })).body.items)).not.toContain('acme/red-tee');
    // Fix another one: a label other than the models'.
    expect((await request('PUT', '/products/acme/blue-dress/attributes/category', { body: { value: 'trouser' } })).status).toBe(200);
    expect(ids((await request('GET', '/review', { query: { task: 'category', vendor: 'acme' } })).body.items)).toEqual(['acme/red-dress']);
  });

  it('draws the calibration from those corrections: the models’ answers recorded with them', async () => {
    const { status, body } = await request('GET', '/calibration');
    expect(status).toBe(200);
    expect(body.tasks.category).toMatchObject({ corrected: 2, threshold: 0, atThreshold: { coverage: 1, accuracy: 0.5 } });
    // Most confident first: blue-dress (0.7, wrong), then red-tee (0.55, right).
    expect(body.tasks.category.curve).toEqual([
      { threshold: 0.7, coverage: 0.5, accuracy: 0 },
      { threshold: 0.55, coverage: 1, accuracy: 0.5 },
    ]);
    expect(body.tasks.color).toEqual({ corrected: 0, threshold: 0, curve: [] });
  });

  it('requires a known task', async () => {
    expect((await request('GET', '/review')).body.message).toMatch(/task is required/);
    expect((await request('GET', '/review', { query: { task: 'size' } })).status).toBe(400);
  });
});

describe('GET /tasks and GET /products/{vendor}/{productId}/evidence', () => {
  it('lists the manifests’ tasks with labels and thresholds', async () => {
    const { body } = await request('GET', '/tasks');
    expect(body.tasks).toEqual(TEST_TASKS.map((t) => ({ name: t.name, labels: t.labels, threshold: 0 })));
    expect(body.modelVersions).toMatchObject({ image: 'weft-image@0.0.1-test' });
    // What the product page draws on the originals: the image model's views.
    expect(body.imageViews).toEqual([
      { name: 'downsampled', kind: 'whole' },
      { name: 'center', kind: 'center', cropFraction: expect.any(Number) },
    ]);
  });

  it('shows the raw and cleaned text and every image with its views, each with an address', async () => {
    const { status, body } = await request('GET', '/products/acme/red-dress/evidence');
    expect(status).toBe(200);
    expect(body).toEqual({
      vendor: 'acme',
      productId: 'red-dress',
      title: 'Red dress',
      document: JSON.stringify({ title: 'Red dress', description: '<b>raw</b> text' }),
      text: 'Red dress\nclean text',
      images: [
        {
          key: 'acme/red-dress/images/front.jpg',
          url: '/local/objects/acme/red-dress/images/front.jpg',
          views: {
            downsampled: { key: 'derived/acme/red-dress/images/front.jpg/downsampled', url: '/local/objects/derived/acme/red-dress/images/front.jpg/downsampled' },
            center: { key: 'derived/acme/red-dress/images/front.jpg/center', url: '/local/objects/derived/acme/red-dress/images/front.jpg/center' },
          },
        },
      ],
    });
    expect((await request('GET', '/products/acme/nothing/evidence')).status).toBe(404);
    expect((await request('GET', '/products/ac%20me/x/evidence')).status).toBe(400);
  });
});

describe('image addresses', () => {
  it('presigns a GET of exactly the object, valid for minutes', async () => {
    const s3 = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } });
    const url = new URL(await presignedImageUrls(s3, 'weft-uploads-dev', 300).url('acme/p 1/images/front.jpg'));
    expect(url.hostname).toBe('weft-uploads-dev.s3.eu-west-1.amazonaws.com');
    expect(decodeURIComponent(url.pathname)).toBe('/acme/p 1/images/front.jpg');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    s3.destroy();
  });

  it('serves local objects under the API server’s path, each segment encoded', async () => {
    expect(await servedImageUrls('/local/objects/').url('acme/p 1/images/a#b.jpg')).toBe('/local/objects/acme/p%201/images/a%23b.jpg');
  });

  it('calibrates: one point per distinct confidence, accuracy at the threshold', () => {
    const outcomes = [0.9, 0.9, 0.6, 0.2].map((confidence, i) => ({ task: 't', value: i === 1 ? 'b' : 'a', model: { value: 'a', confidence } }));
    expect(calibrate(outcomes, 0.5)).toEqual({
      corrected: 4,
      threshold: 0.5,
      atThreshold: { coverage: 0.75, accuracy: 0.6667 },
      curve: [
        { threshold: 0.9, coverage: 0.5, accuracy: 0.5 },
        { threshold: 0.6, coverage: 0.75, accuracy: 0.6667 },
        { threshold: 0.2, coverage: 1, accuracy: 0.75 },
      ],
    });
  });
});
