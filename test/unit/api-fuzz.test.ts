/**
 * Hostile input against every route the HTTP API declares (routeTable.ts), through the real api
 * handler on a dynalite table: tampered cursors, names that exist on Object.prototype, malformed
 * paths, queries and bodies. Whatever comes in, the answer is never a 5xx, and every error is
 * JSON with a message; a cursor that is not one this query returned is a 400.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../functions/api/routeTable.js';
import { ID_PATTERN } from '../../functions/shared/layout.js';
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

interface Request {
  method: string;
  path: string;
  query?: Record<string, string>;
  body?: string;
  base64?: boolean;
}

const call = async ({ method, path, query, body, base64 }: Request) => {
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: new URLSearchParams(query ?? {}).toString(),
    headers: {},
    ...(query ? { queryStringParameters: query } : {}),
    requestContext: { http: { method, path } },
    ...(body !== undefined ? { body: base64 ? Buffer.from(body).toString('base64') : body, isBase64Encoded: base64 ?? false } : {}),
  } as unknown as APIGatewayProxyEventV2;
  const response = await handler(event);
  return { status: response.statusCode ?? 200, raw: response.body ?? '' };
};

/** The contract for any input: no 5xx, and an error is a JSON object with a message. */
const expectHandled = (request: Request, response: { status: number; raw: string }): void => {
  const context = `${request.method} ${request.path} ${JSON.stringify(request.query ?? {})} → ${response.status} ${response.raw.slice(0, 200)}`;
  expect(response.status, context).toBeLessThan(500);
  if (response.status >= 400) {
    const parsed = JSON.parse(response.raw) as { message?: unknown };
    expect(typeof parsed.message, context).toBe('string');
  }
};

const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', '__defineGetter__', '__lookupSetter__', 'prototype'];

const SEQ = normalizeSequencer('01');
const catalog = taskCatalog([{ tasks: TEST_TASKS }]);
/** A first page's cursor of each paging route, and the query it came from. */
const firstPages: Record<'attributes' | 'vendorAttributes' | 'rejections' | 'corrections', Request & { cursor: string }> = {} as never;

beforeAll(async () => {
  table = await startTestTable('weft-api-fuzz-test');
  restoreEnv = useTestEnv({ TABLE_NAME: table.tableName, WEFT_MODELS_DIR: writeModelsDir(), AWS_ENDPOINT_URL_DYNAMODB: table.endpoint });
  ({ handler } = await import('../../functions/api/handler.js'));
  const store = new ProductStore({
    client: table.client,
    tableName: table.tableName,
    catalog,
    ensemble: EnsembleConfigSchema.parse({ schemaVersion: 1, defaults: { weights: { image: 1, text: 1, rules: 1 } } }),
  });
  for (const productId of ['tee-1', 'tee-2', 'tee-3']) {
    await store.putSource({ vendor: 'acme', productId, kind: 'text' }, SEQ, `acme/${productId}/product.json`, { status: 'tagged', predictions: { category: { tshirt_top: 1 }, color: { red: 1 } } });
    await store.merge('acme', productId);
    await store.putCorrection('acme', productId, 'color', 'blue');
  }
  for (const key of ['stray-1.jpg', 'stray#2.jpg', 'a/b/c/d.jpg']) await store.recordRejection({ key, code: 'outside_layout', reason: 'key must be …', eventTime: '2026-11-28T00:00:00.000Z' });

  const firstPage = async (name: keyof typeof firstPages, request: Request) => {
    const response = await call(request);
    const cursor = (JSON.parse(response.raw) as { nextCursor?: string }).nextCursor;
    if (!cursor) throw new Error(`${request.path} returned no next page (${response.raw})`);
    firstPages[name] = { ...request, cursor };
  };
  await firstPage('attributes', { method: 'GET', path: '/attributes/category/tshirt_top', query: { limit: '1' } });
  await firstPage('vendorAttributes', { method: 'GET', path: '/attributes/category/tshirt_top', query: { limit: '1', vendor: 'acme' } });
  await firstPage('rejections', { method: 'GET', path: '/rejections', query: { limit: '1' } });
  await firstPage('corrections', { method: 'GET', path: '/corrections', query: { limit: '1', since: '2020-01-01T00:00:00Z' } });
});

afterAll(async () => {
  restoreEnv();
  await table.stop();
});

const encode = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const startKey = (cursor: string): Record<string, string> => JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));

/** Hand-made tampering of a valid start key (each is also a class the property below samples). */
const tamperings = (key: Record<string, string>, other: string): Record<string, string> => ({
  'not base64url': '%%%garbage%%%',
  'base64 of plain text': encode('hello'),
  'a JSON array': encode([key]),
  'a JSON string': encode('"pk"'),
  'JSON null': encode('null'),
  'an empty object': encode({}),
  'a key attribute missing': encode({ pk: key.pk, sk: key.sk, gsi1pk: key.gsi1pk }),
  'an extra attribute': encode({ ...key, extra: 'x' }),
  'a number for a key': encode({ ...key, pk: 42 }),
  'null for a key': encode({ ...key, sk: null }),
  'an empty key string': encode({ ...key, gsi1sk: '' }),
  'a typed DynamoDB value': encode({ ...key, gsi1sk: { S: key.gsi1sk } }),
  'a sort key over 1024 bytes': encode({ ...key, sk: 'x'.repeat(1025) }),
  'a lone surrogate': encode(`{"pk":${JSON.stringify(key.pk)},"sk":"\\ud800","gsi1pk":${JSON.stringify(key.gsi1pk)},"gsi1sk":${JSON.stringify(key.gsi1sk)}}`),
  'another index partition': encode({ ...key, gsi1pk: 'category#dress' }),
  'a table key not matching the index entry': encode({ ...key, pk: `${key.pk}x` }),
  'a cursor of another query': other,
  'a non-canonical encoding': `${encode(key)}A`,
  'deep nesting': encode(`{"pk":${'['.repeat(5000)}${']'.repeat(5000)}}`),
  '__proto__ as an attribute': encode(`{"__proto__":{"pk":"x"},"sk":"y","gsi1pk":"z","gsi1sk":"w"}`),
});

describe('cursors', () => {
  it.each(['attributes', 'vendorAttributes', 'rejections', 'corrections'] as const)('a tampered %s cursor is a 400 with a JSON message', async (name) => {
    const page = firstPages[name];
    const other = name === 'rejections' ? firstPages.corrections.cursor : firstPages.rejections.cursor;
    // The untouched cursor continues its query.
    expect((await call({ ...page, query: { ...page.query, cursor: page.cursor } })).status).toBe(200);
    const failures: string[] = [];
    for (const [what, cursor] of Object.entries(tamperings(startKey(page.cursor), other))) {
      const response = await call({ ...page, query: { ...page.query, cursor } });
      if (response.status !== 400 || typeof (JSON.parse(response.raw) as { message?: unknown }).message !== 'string') failures.push(`${what}: ${response.status} ${response.raw}`);
    }
    expect(failures).toEqual([]);
  });

  it('a vendor page cursor does not continue another vendor', async () => {
    const page = firstPages.vendorAttributes;
    expect((await call({ ...page, query: { ...page.query, vendor: 'other', cursor: page.cursor } })).status).toBe(400);
  });

  it('any edit of a start key is either still a start key of that query or a 400', async () => {
    const keyAttribute = fc.constantFrom('pk', 'sk', 'gsi1pk', 'gsi1sk');
    const anyValue = fc.oneof(fc.string({ unit: 'grapheme-composite' }), fc.string({ unit: 'binary', maxLength: 8 }), fc.integer(), fc.constant(null), fc.constant(''), fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }));
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), attribute: fc.oneof(keyAttribute, fc.constantFrom(...PROTOTYPE_NAMES), fc.string()), value: anyValue }),
      fc.record({ kind: fc.constant('drop' as const), attribute: keyAttribute }),
      fc.record({ kind: fc.constant('append' as const), attribute: keyAttribute, value: fc.string({ maxLength: 4 }) }),
    );
    const page = fc.constantFrom('attributes', 'vendorAttributes', 'rejections', 'corrections' as const);
    await fc.assert(
      fc.asyncProperty(page, fc.array(edit, { minLength: 1, maxLength: 3 }), async (name, edits) => {
        const first = firstPages[name];
        const key: Record<string, unknown> = Object.fromEntries(Object.entries(startKey(first.cursor)));
        for (const e of edits) {
          if (e.kind === 'drop') delete key[e.attribute];
          // JSON, not String(): an earlier edit may have set a null-prototype object, which has no toString.
          else if (e.kind === 'append') key[e.attribute] = `${typeof key[e.attribute] === 'string' ? key[e.attribute] : JSON.stringify(key[e.attribute])}${e.value}`;
          else Object.defineProperty(key, e.attribute, { value: e.value, enumerable: true, writable: true, configurable: true });
        }
        const request = { ...first, query: { ...first.query, cursor: encode(key) } };
        const response = await call(request);
        expectHandled(request, response);
        expect([200, 400]).toContain(response.status);
      }),
      { numRuns: 150 },
    );
  });
});

describe('names that exist on Object.prototype', () => {
  it.each(PROTOTYPE_NAMES)('%s as a task, value or id is answered 4xx with a JSON message', async (name) => {
    // [request, the status it must get]: an unknown task or label is 404, a bad body 400.
    const requests: [Request, number][] = [
      [{ method: 'GET', path: `/attributes/${name}/red` }, 404],
      [{ method: 'GET', path: `/attributes/color/${name}` }, 404],
      [{ method: 'PUT', path: `/products/acme/tee-1/attributes/${name}`, body: '{"value": "red"}' }, 404],
      [{ method: 'PUT', path: '/products/acme/tee-1/attributes/color', body: JSON.stringify({ value: name }) }, 400],
      [{ method: 'PUT', path: '/products/acme/tee-1/attributes/color', body: `{"${name}": {"value": "red"}}` }, 400],
      [{ method: 'DELETE', path: `/products/acme/tee-1/attributes/${name}` }, 404],
      [{ method: 'GET', path: `/products/acme/${name}` }, ID_PATTERN.test(name) ? 404 : 400],
      [{ method: 'GET', path: `/${name}` }, 404],
    ];
    for (const [request, status] of requests) {
      const response = await call({ ...request, path: request.path.replace(name, encodeURIComponent(name)) });
      expectHandled(request, response);
      expect(response.status, `${request.method} ${request.path}`).toBe(status);
    }
  });
});

describe('every declared route under arbitrary input', () => {
  const tasks = Object.keys(catalog);
  const labels = Object.values(catalog).flat();
  const segment = fc.oneof(
    fc.constantFrom(...PROTOTYPE_NAMES, ...tasks, ...labels, 'acme', 'tee-1', '', '%', '%zz', '..', '#', 'a#b', 'x'.repeat(300)),
    fc.string({ unit: 'grapheme-composite', maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 8 }),
  );
  const queryValue = fc.oneof(
    fc.constantFrom('0', '1', '100', '101', '-1', '1.5', '1e2', 'NaN', '', 'acme', '2026-01-01', 'not a time', ...PROTOTYPE_NAMES),
    fc.string({ maxLength: 30 }),
    fc.base64String({ maxLength: 40 }),
  );
  const query = fc.option(fc.dictionary(fc.oneof(fc.constantFrom('limit', 'cursor', 'vendor', 'since'), fc.constantFrom(...PROTOTYPE_NAMES)), queryValue, { maxKeys: 4 }), { nil: undefined });
  const body = fc.option(
    fc.oneof(
      fc.json({ maxDepth: 3 }),
      fc.string({ maxLength: 40 }),
      fc.constantFrom(...labels, ...PROTOTYPE_NAMES).map((value) => JSON.stringify({ value })),
      fc.constantFrom(...PROTOTYPE_NAMES).map((name) => `{"${name}": {"value": "red"}}`),
    ),
    { nil: undefined },
  );

  it.each(API_ROUTES.map((r) => [`${r.method} ${r.path}`, r] as const))('%s', async (_name, routeSpec) => {
    const params = routeSpec.path.match(/\{[^}]+\}/g) ?? [];
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: params.length, maxLength: params.length }), fc.boolean(), query, body, fc.boolean(), async (values, encoded, q, b, base64) => {
        let path = routeSpec.path;
        params.forEach((param, i) => {
          path = path.replace(param, encoded ? encodeURIComponent(values[i]!) : values[i]!);
        });
        const request: Request = { method: routeSpec.method, path, ...(q ? { query: q } : {}), ...(b !== undefined ? { body: b, base64 } : {}) };
        expectHandled(request, await call(request));
      }),
      { numRuns: 60 },
    );
  });
});
