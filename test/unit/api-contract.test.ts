/**
 * The OpenAPI document against the code it describes: every route of routeTable.ts has an
 * operation and every operation a route; the document is valid OpenAPI 3.1 (@readme/openapi-parser);
 * its task and label enums are the loaded manifests'; and the handler answers as the document
 * says for the cases the document is explicit about (query constraints, HEAD, OPTIONS, other
 * methods, the docs pages). Responses are checked against the schemas by schemathesis
 * (test/integration/apiContract.test.ts).
 */
import { validate } from '@readme/openapi-parser';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../functions/api/openapi/operations.js';
import { documentRoutes, openApiDocument, type OpenApiDocument } from '../../functions/api/openapi/document.js';
import { API_ROUTES, RESOURCE_ROUTES } from '../../functions/api/routeTable.js';
import { EnsembleConfigSchema } from '../../functions/shared/manifest.js';
import { taskCatalog } from '../../functions/shared/products/ensemble.js';
import { normalizeSequencer } from '../../functions/shared/products/keys.js';
import { ProductStore } from '../../functions/shared/products/productStore.js';
import { startTestTable, type TestTable } from './support/dynalite.js';
import { useTestEnv } from './support/env.js';
import { TEST_TASKS, writeModelsDir } from './support/models.js';

const catalog = taskCatalog([{ tasks: TEST_TASKS }]);
const CONSOLE_JWT = { issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example', audience: ['1example23456789'] };
const key = (r: { method: string; path: string }) => `${r.method} ${r.path}`;

describe('the document covers the route table', () => {
  const document = openApiDocument({ catalog, authorization: 'iam' });

  it('has one operation per route and no operation without a route', () => {
    expect(documentRoutes(document).map(key).sort()).toEqual(API_ROUTES.filter((r) => r.method !== 'ANY').map(key).sort());
    // An operation written for a route that does not exist is caught too.
    for (const operation of Object.keys(OPERATIONS)) expect(RESOURCE_ROUTES.map(key)).toContain(operation);
  });

  it('is a valid OpenAPI 3.1 document, for either authorization, with or without the console API beside it', async () => {
    for (const authorization of ['iam', 'none'] as const) {
      for (const jwt of [undefined, CONSOLE_JWT]) {
        const candidate = openApiDocument({ catalog, authorization, ...(jwt ? { jwt } : {}) });
        expect(candidate.openapi).toBe('3.1.0');
        // validate() dereferences in place; give it a copy.
        const result = await validate(structuredClone(candidate) as never);
        expect(result.valid, JSON.stringify(result.valid ? [] : result.errors)).toBe(true);
      }
    }
  });

  it('lists the tasks and labels of the manifests it was built from, per task where it can', () => {
    const get = (path: string) => document.paths![path]!.get!;
    const param = (path: string, name: string) => (get(path).parameters as { name: string; schema: { enum?: string[] } }[]).find((p) => p.name === name)!.schema;
    expect(param('/attributes/{task}/{value}', 'task').enum).toEqual(TEST_TASKS.map((t) => t.name));
    expect(param('/attributes/{task}/{value}', 'value').enum).toEqual(TEST_TASKS.flatMap((t) => t.labels));
    const product = document.components!.schemas!.Product as { properties: Record<string, any> };
    for (const task of TEST_TASKS) {
      expect(product.properties.attributes.properties[task.name].properties.value.anyOf[0].enum).toEqual(task.labels);
      expect(product.properties.corrections.properties[task.name].enum).toEqual(task.labels);
    }
    expect(product.properties.attributes.additionalProperties).toBe(false);
    expect(JSON.stringify(document)).not.toContain('x-weft-catalog');
  });

  it('marks only the document and its pages public when the API uses IAM', () => {
    const publicRoutes = documentRoutes(document).filter((r) => r.public).map((r) => r.path);
    expect([...new Set(publicRoutes)].sort()).toEqual(['/docs', '/docs/{asset}', '/openapi.json']);
    expect(documentRoutes(openApiDocument({ catalog, authorization: 'none' })).every((r) => r.public)).toBe(true);
  });

  it('states SigV4 alone for the IAM API, and SigV4 or the console JWT when the console API serves the same routes', () => {
    expect(document.security).toEqual([{ sigv4: [] }]);
    expect(Object.keys(document.components!.securitySchemes!)).toEqual(['sigv4']);

    const both = openApiDocument({ catalog, authorization: 'iam', jwt: CONSOLE_JWT });
    // Either scheme, each accepted by its own API.
    expect(both.security).toEqual([{ sigv4: [] }, { consoleJwt: [] }]);
    expect(both.components!.securitySchemes!.sigv4).toMatchObject({ type: 'apiKey', in: 'header', name: 'Authorization', 'x-amazon-apigateway-authtype': 'awsSigv4' });
    expect(both.components!.securitySchemes!.consoleJwt).toMatchObject({
      type: 'openIdConnect',
      openIdConnectUrl: `${CONSOLE_JWT.issuer}/.well-known/openid-configuration`,
      'x-amazon-apigateway-authorizer': { type: 'jwt', jwtConfiguration: { issuer: CONSOLE_JWT.issuer, audience: CONSOLE_JWT.audience }, identitySource: '$request.header.Authorization' },
    });
    expect(both.info.description).toContain('Authorization: Bearer <token>');
    expect(both.info.description).toContain('a missing or invalid token is a 401');
    // The public routes stay public on both APIs; the others need one of the two.
    const publicBoth = documentRoutes(both).filter((r) => r.public).map((r) => `${r.method} ${r.path}`).sort();
    expect(publicBoth).toEqual(documentRoutes(document).filter((r) => r.public).map((r) => `${r.method} ${r.path}`).sort());
    // No route changes shape: only the document-wide requirement and its schemes differ.
    expect(both.paths).toEqual(document.paths);
    const { components: { securitySchemes: _withJwt, ...restBoth } = {}, security: _s1, info: _i1, ...otherBoth } = both;
    const { components: { securitySchemes: _iamOnly, ...restIam } = {}, security: _s2, info: _i2, ...otherIam } = document;
    expect(restBoth).toEqual(restIam);
    expect(otherBoth).toEqual(otherIam);

    // The IAM API deployed without authorization: anonymous there, a JWT on the console's API.
    const open = openApiDocument({ catalog, authorization: 'none', jwt: CONSOLE_JWT });
    expect(open.security).toEqual([{}, { consoleJwt: [] }]);
    expect(Object.keys(open.components!.securitySchemes!)).toEqual(['consoleJwt']);
    expect(documentRoutes(open).every((r) => r.public)).toBe(true);
    expect(open.info.description).toContain('no authorization in this deployment');
    // Locally: nothing to state.
    const local = openApiDocument({ catalog, authorization: 'none' });
    expect(local.security).toBeUndefined();
    expect(local.components?.securitySchemes).toBeUndefined();
  });

  it('documents the error shape for every 4xx and 5xx it lists', () => {
    for (const [path, item] of Object.entries(document.paths!)) {
      for (const [method, operation] of Object.entries(item as Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>)) {
        if (method === 'head' || method === 'options') continue;
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) >= 400) expect(response.content?.['application/json'], `${method} ${path} ${status}`).toEqual({ schema: { $ref: '#/components/schemas/Error' } });
        }
      }
    }
  });
});

describe('the handler answers as documented', () => {
  let table: TestTable;
  let restoreEnv: () => void;
  let handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

  const call = async (method: string, path: string, query?: Record<string, string>) => {
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
    return { status: response.statusCode ?? 200, headers: (response.headers ?? {}) as Record<string, string>, body: response.body ?? '' };
  };

  beforeAll(async () => {
    table = await startTestTable('weft-api-contract-test');
    restoreEnv = useTestEnv({
      TABLE_NAME: table.tableName,
      WEFT_MODELS_DIR: writeModelsDir(),
      AWS_ENDPOINT_URL_DYNAMODB: table.endpoint,
      WEFT_API_AUTHORIZATION: 'iam',
      WEFT_API_JWT_ISSUER: CONSOLE_JWT.issuer,
      WEFT_API_JWT_AUDIENCE: CONSOLE_JWT.audience.join(','),
    });
    ({ handler } = await import('../../functions/api/handler.js'));
    const store = new ProductStore({ client: table.client, tableName: table.tableName, catalog, ensemble: EnsembleConfigSchema.parse({ schemaVersion: 1, defaults: { weights: { image: 1, text: 1, rules: 1 } } }) });
    await store.putSource({ vendor: 'acme', productId: 'tee-1', kind: 'text' }, normalizeSequencer('01'), 'acme/tee-1/product.json', { status: 'tagged', predictions: { category: { tshirt_top: 1 } } });
    await store.merge('acme', 'tee-1');
  });

  afterAll(async () => {
    restoreEnv();
    await table.stop();
  });

  it('serves the document of its own manifests and authorization, both APIs\' schemes, at GET /openapi.json', async () => {
    const response = await call('GET', '/openapi.json');
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual(
      JSON.parse(JSON.stringify(openApiDocument({ catalog, authorization: 'iam', jwt: CONSOLE_JWT, modelVersions: { image: 'weft-image@0.0.1-test', text: 'weft-text@0.0.1-test' } }))),
    );
  });

  it.each([
    ['/attributes/category/tshirt_top', { vendor: '' }],
    ['/attributes/category/tshirt_top', { limit: '' }],
    ['/attributes/category/tshirt_top', { limit: '1e1' }],
    ['/attributes/category/tshirt_top', { limit: '0x10' }],
    ['/rejections', { limit: ' 5' }],
    ['/corrections', { since: '' }],
    ['/corrections', { since: '2026-11-28' }],
    ['/corrections', { since: '1' }],
    ['/products/acme/tee-1', { format: '' }],
    ['/products/acme/tee-1', { format: 'xml' }],
    ['/rejections', { lmit: '5' }],
    ['/health', { verbose: '1' }],
    ['/products/acme/tee-1', { constructor: '' }],
  ])('refuses a query value the document does not allow: %s %o', async (path, query) => {
    const response = await call('GET', path, query);
    expect(response.status, response.body).toBe(400);
    expect(typeof (JSON.parse(response.body) as { message?: unknown }).message).toBe('string');
  });

  it('takes what the document allows, including an empty cursor for the first page', async () => {
    for (const [path, query] of [
      ['/attributes/category/tshirt_top', { vendor: 'acme', limit: '100', cursor: '' }],
      ['/corrections', { since: '2026-11-28T00:00:00+01:00', limit: '1' }],
      ['/rejections', { limit: '1' }],
    ] as const) {
      expect((await call('GET', path, query)).status, `${path} ${JSON.stringify(query)}`).toBe(200);
    }
  });

  it('answers HEAD with the GET’s status and headers, OPTIONS with 204 and Allow, and other methods with 405 and Allow', async () => {
    const get = await call('GET', '/products/acme/tee-1');
    const head = await call('HEAD', '/products/acme/tee-1');
    expect(head.status).toBe(get.status);
    expect(head.headers['content-type']).toBe(get.headers['content-type']);
    expect((await call('HEAD', '/products/acme/nope')).status).toBe(404);
    const options = await call('OPTIONS', '/products/acme/tee-1/attributes/color');
    expect(options.status).toBe(204);
    expect(options.headers.allow).toBe('PUT, DELETE, OPTIONS');
    expect((await call('OPTIONS', '/health')).headers.allow).toBe('GET, HEAD, OPTIONS');
    const post = await call('POST', '/health');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect(typeof (JSON.parse(post.body) as { message?: unknown }).message).toBe('string');
  });

  it('serves the reference page and its files from the package, and 404s other names', async () => {
    const page = await call('GET', '/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    for (const src of [...page.body.matchAll(/(?:src|href)="(docs\/[^"]+)"/g)].map((m) => m[1]!)) {
      const asset = await call('GET', `/${src}`);
      expect(asset.status, src).toBe(200);
      expect(asset.body.length, src).toBeGreaterThan(src.endsWith('init.js') ? 100 : 10_000);
    }
    expect((await call('GET', '/docs/..%2Fpackage.json')).status).toBe(404);
    expect((await call('GET', '/docs/swagger-ui.js.map')).status).toBe(404);
  });
});
