/**
 * The API describing itself: GET /openapi.json (the document of this deployment's models) and the
 * Swagger UI reference at /docs with its files under /docs/{asset}.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { TaskCatalog } from '../shared/products/ensemble.js';
import { HttpError, json } from './http.js';
import { DOCS_CONTENT_SECURITY_POLICY, DOCS_PAGE, readDocsAsset } from './openapi/docsAssets.js';
import { openApiDocument, type ApiAuthorization, type JwtAuthorization, type OpenApiDocument } from './openapi/document.js';
import type { Route } from './routes.js';

/** One document per loaded catalog: the manifests do not change while a function runs. */
const documents = new WeakMap<TaskCatalog, Map<string, OpenApiDocument>>();

export const documentFor = (catalog: TaskCatalog, authorization: ApiAuthorization, modelVersions: Record<string, string>, jwt?: JwtAuthorization): OpenApiDocument => {
  let byOptions = documents.get(catalog);
  if (!byOptions) documents.set(catalog, (byOptions = new Map()));
  const key = JSON.stringify([authorization, modelVersions, jwt ?? null]);
  let document = byOptions.get(key);
  if (!document) byOptions.set(key, (document = openApiDocument({ catalog, authorization, modelVersions, ...(jwt ? { jwt } : {}) })));
  return document;
};

const text = (contentType: string, body: string, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 => ({
  statusCode: 200,
  headers: { 'content-type': `${contentType}; charset=utf-8`, 'x-content-type-options': 'nosniff', ...headers },
  body,
});

export const contractRoutes: Route[] = [
  {
    method: 'GET',
    path: '/openapi.json',
    handle: async (_m, _e, deps) => json(200, documentFor(deps.catalog, deps.authorization ?? 'none', deps.modelVersions, deps.jwt)),
  },
  {
    method: 'GET',
    path: '/docs',
    handle: async () => text('text/html', DOCS_PAGE, { 'content-security-policy': DOCS_CONTENT_SECURITY_POLICY }),
  },
  {
    method: 'GET',
    path: '/docs/{asset}',
    handle: async ([name]) => {
      const asset = readDocsAsset(name!);
      if (!asset) throw new HttpError(404, `no docs file "${name}"`);
      // The files change only with a new deployment.
      return text(asset.contentType, asset.body, { 'cache-control': 'public, max-age=3600' });
    },
  },
];
