/**
 * The lookup API, without Lambda: method + path → store call → JSON. Tasks and labels are checked
 * against the manifests' catalog, never a list in code.
 *
 *   GET    /health
 *   GET    /products/{vendor}/{productId}                      JSON, or JSON-LD (Accept: application/ld+json, ?format=jsonld)
 *   PUT    /products/{vendor}/{productId}/attributes/{task}   body {"value": "<label>"}
 *   DELETE /products/{vendor}/{productId}/attributes/{task}
 *   GET    /attributes/{task}/{value}?vendor=&limit=&cursor=
 *   GET    /rejections?limit=&cursor=
 *   GET    /corrections?since=&limit=&cursor=
 * and the console's routes (catalogRoutes.ts): GET /products, /review, /tasks,
 * /products/{vendor}/{productId}/evidence, /calibration, and the catalog statistics GET /stats.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ID_PATTERN } from '../shared/layout.js';
import { own } from '../shared/ownKeys.js';
import type { TaskCatalog } from '../shared/products/ensemble.js';
import { InvalidCursorError } from '../shared/products/cursor.js';
import type { ProductStore } from '../shared/products/productStore.js';
import type { CatalogQueries } from '../shared/products/catalogQueries.js';
import { modelAnswerIn } from '../shared/products/calibration.js';
import { buildProductView } from '../shared/products/productView.js';
import { catalogRoutes } from './catalogRoutes.js';
import type { ImageUrls } from './imageUrls.js';
import type { ImageViewInfo } from './catalogViews.js';
import { contractRoutes } from './contractRoutes.js';
import type { TaxonomyIndex } from '../shared/taxonomy/taxonomyIndex.js';
import { HttpError, errorResponse, json } from './http.js';
import { presentProduct, productResponse } from './productResponse.js';
import { DEFAULT_LIMIT, MAX_LIMIT } from './limits.js';
import type { ApiAuthorization, JwtAuthorization } from './openapi/document.js';
import { queryParameterNames } from './openapi/operations.js';
import { Limit, Since } from './openapi/schemas.js';
import { allowedMethods, withHeadAndOptions, type ApiMethod } from './routeTable.js';

export interface ApiDeps {
  store: ProductStore;
  catalog: TaskCatalog;
  modelVersions: Record<string, string>;
  /** Shopify/Google taxonomy ids of the labels; absent when the models folder has no mapping. */
  taxonomy?: TaxonomyIndex;
  /** What the served OpenAPI document says about authorization; `none` when unset. */
  authorization?: ApiAuthorization;
  /** The console's JWT-authorized API beside this one, which the served document also states. */
  jwt?: JwtAuthorization;
  /** The console's reads: listing, facets, review queue, corrections for calibration. */
  queries: CatalogQueries;
  /** Browser addresses of uploads and derived views. */
  images: ImageUrls;
  /** The image model's views, for pages that draw them on the originals. */
  imageViews?: ImageViewInfo[];
}

export { DEFAULT_LIMIT, MAX_LIMIT };

const segments = (path: string): string[] => {
  try {
    return path
      .split('/')
      .filter((s) => s.length > 0)
      .map((s) => decodeURIComponent(s));
  } catch {
    throw new HttpError(400, 'malformed percent-encoding in path');
  }
};

const id = (value: string, what: string): string => {
  if (!ID_PATTERN.test(value)) throw new HttpError(400, `invalid ${what} "${value}": must match ${ID_PATTERN.source}`);
  return value;
};

// Query values are checked against the schemas the OpenAPI document publishes: a value that is
// given must be valid (an empty `limit`, `vendor` or `since` is a 400, not a default).
const limitParam = (raw: string | undefined): number => {
  if (raw === undefined) return DEFAULT_LIMIT;
  const limit = /^[0-9]{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Limit.safeParse(limit).success) throw new HttpError(400, `limit must be an integer from 1 to ${MAX_LIMIT}`);
  return limit;
};

const labelsOf = (catalog: TaskCatalog, task: string): readonly string[] => {
  const labels = own(catalog, task);
  if (!labels) throw new HttpError(404, `unknown task "${task}"; known tasks: ${Object.keys(catalog).join(', ')}`);
  return labels;
};

const readBody = (event: APIGatewayProxyEventV2): unknown => {
  if (!event.body) throw new HttpError(400, 'request body must be JSON: {"value": "<label>"}');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
};

const productOr404 = async (store: ProductStore, vendor: string, productId: string) => {
  const product = await store.getProduct(vendor, productId);
  if (!product) throw new HttpError(404, `product ${vendor}/${productId} not found`);
  return product;
};

export type Handler = (match: string[], event: APIGatewayProxyEventV2, deps: ApiDeps) => Promise<APIGatewayProxyStructuredResultV2>;

export interface Route {
  method: ApiMethod;
  /** API Gateway route path; `{name}` segments are parameters, passed to `handle` in order. */
  path: string;
  handle: Handler;
}

const routes: Route[] = [
  {
    method: 'GET',
    path: '/health',
    handle: async (_m, _e, deps) => json(200, { status: 'ok', modelVersions: deps.modelVersions, tasks: Object.keys(deps.catalog) }),
  },
  {
    method: 'GET',
    path: '/products/{vendor}/{productId}',
    handle: async ([vendor, productId], event, deps) => productResponse(await productOr404(deps.store, id(vendor!, 'vendor'), id(productId!, 'productId')), event, deps),
  },
  {
    method: 'PUT',
    path: '/products/{vendor}/{productId}/attributes/{task}',
    handle: async ([vendor, productId, task], event, { store, catalog, taxonomy }) => {
      id(vendor!, 'vendor');
      id(productId!, 'productId');
      const labels = labelsOf(catalog, task!);
      const body = readBody(event);
      const value = body !== null && typeof body === 'object' ? (body as { value?: unknown }).value : undefined;
      if (typeof value !== 'string' || !labels.includes(value)) {
        throw new HttpError(400, `"value" must be one of the ${task} labels: ${labels.join(', ')}`);
      }
      const items = await store.readPartition(vendor!, productId!);
      if (!buildProductView(items)) throw new HttpError(404, `product ${vendor}/${productId} not found`);
      // What the models answered before a person did: the accuracy curve is drawn from these.
      await store.putCorrection(vendor!, productId!, task!, value, modelAnswerIn(items, task!));
      await store.merge(vendor!, productId!);
      return json(200, presentProduct(await productOr404(store, vendor!, productId!), taxonomy));
    },
  },
  {
    method: 'DELETE',
    path: '/products/{vendor}/{productId}/attributes/{task}',
    handle: async ([vendor, productId, task], _e, { store, catalog, taxonomy }) => {
      id(vendor!, 'vendor');
      id(productId!, 'productId');
      labelsOf(catalog, task!);
      if (!(await store.deleteCorrection(vendor!, productId!, task!))) {
        throw new HttpError(404, `no correction of ${task} on ${vendor}/${productId}`);
      }
      await store.merge(vendor!, productId!);
      return json(200, presentProduct(await productOr404(store, vendor!, productId!), taxonomy));
    },
  },
  {
    method: 'GET',
    path: '/attributes/{task}/{value}',
    handle: async ([task, value], event, { store, catalog }) => {
      const labels = labelsOf(catalog, task!);
      if (!labels.includes(value!)) throw new HttpError(404, `unknown ${task} value "${value}"; labels: ${labels.join(', ')}`);
      const query = event.queryStringParameters ?? {};
      const vendor = query.vendor !== undefined ? id(query.vendor, 'vendor') : undefined;
      return json(
        200,
        await store.findByAttribute(task!, value!, { ...(vendor ? { vendor } : {}), limit: limitParam(query.limit), ...(query.cursor ? { cursor: query.cursor } : {}) }),
      );
    },
  },
  {
    method: 'GET',
    path: '/rejections',
    handle: async (_m, event, { store }) => {
      const query = event.queryStringParameters ?? {};
      return json(200, await store.listRejections({ limit: limitParam(query.limit), ...(query.cursor ? { cursor: query.cursor } : {}) }));
    },
  },
  {
    method: 'GET',
    path: '/corrections',
    handle: async (_m, event, { store }) => {
      const query = event.queryStringParameters ?? {};
      let since: string | undefined;
      if (query.since !== undefined) {
        const time = Since.safeParse(query.since).success ? Date.parse(query.since) : Number.NaN;
        if (Number.isNaN(time)) throw new HttpError(400, 'since must be an ISO 8601 time, e.g. 2026-11-28T00:00:00Z');
        since = new Date(time).toISOString();
      }
      return json(200, await store.listCorrections({ ...(since ? { since } : {}), limit: limitParam(query.limit), ...(query.cursor ? { cursor: query.cursor } : {}) }));
    },
  },
  ...catalogRoutes,
  ...contractRoutes,
];

/** What this module implements, for the check against routeTable.ts. */
export const IMPLEMENTED_ROUTES: readonly { method: ApiMethod; path: string }[] = withHeadAndOptions(routes.map(({ method, path }) => ({ method, path })));

const matches = (path: string, parts: string[]): string[] | undefined => {
  const pattern = path.split('/').filter((s) => s.length > 0);
  if (pattern.length !== parts.length) return undefined;
  const params: string[] = [];
  for (let i = 0; i < pattern.length; i += 1) {
    if (pattern[i]!.startsWith('{')) params.push(parts[i]!);
    else if (pattern[i] !== parts[i]) return undefined;
  }
  return params;
};

export const route = async (event: APIGatewayProxyEventV2, deps: ApiDeps): Promise<APIGatewayProxyStructuredResultV2> => {
  try {
    const method = event.requestContext?.http?.method?.toUpperCase() ?? 'GET';
    const parts = segments(event.rawPath ?? '/');
    const candidates = routes.map((r) => ({ r, params: matches(r.path, parts) })).filter((c) => c.params !== undefined);
    if (candidates.length === 0) return errorResponse(404, `no route for ${method} ${event.rawPath}`);
    const allow = allowedMethods(candidates[0]!.r.path, IMPLEMENTED_ROUTES).join(', ');
    if (method === 'OPTIONS') return { statusCode: 204, headers: { allow } };
    // HEAD is the GET without its body; the HTTP layer (API Gateway, node:http) drops the body.
    const chosen = candidates.find((c) => c.r.method === (method === 'HEAD' ? 'GET' : method));
    if (!chosen) {
      return { ...errorResponse(405, `method ${method} not allowed on ${event.rawPath}`), headers: { 'content-type': 'application/json; charset=utf-8', allow } };
    }
    // The document lists every query parameter a route takes; another one is a typo or a misuse.
    const known = queryParameterNames(chosen.r.method, chosen.r.path);
    const unknown = Object.keys(event.queryStringParameters ?? {}).find((name) => !known.includes(name));
    if (unknown !== undefined) throw new HttpError(400, `unknown query parameter ${JSON.stringify(unknown)}: ${chosen.r.path} takes ${known.length > 0 ? known.join(', ') : 'none'}`);
    return await chosen.r.handle(chosen.params!, event, deps);
  } catch (error) {
    if (error instanceof HttpError) return errorResponse(error.statusCode, error.message);
    if (error instanceof InvalidCursorError) return errorResponse(400, error.message);
    throw error;
  }
};
