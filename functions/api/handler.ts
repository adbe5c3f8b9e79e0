/**
 * Lambda entry of the lookup API (API Gateway HTTP API, payload v2). Wiring only; routes are in
 * routes.ts. Configuration is read at the first invocation, not at import.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { documentClient, s3Client } from '../shared/awsClients.js';
import { TransientError, describeError } from '../shared/errors.js';
import { lazy, loadModelSet, modelVersion } from '../shared/ingest/config.js';
import { wrapHandler } from '../shared/ingest/lambda.js';
import { observability } from '../shared/ingest/observability.js';
import { ProductStore } from '../shared/products/productStore.js';
import { CatalogQueries } from '../shared/products/catalogQueries.js';
import { imageUrlsFromEnv } from './imageUrls.js';
import { imageViewsOf } from './catalogRoutes.js';
import { errorResponse } from './http.js';
import { loadTaxonomy } from '../shared/taxonomy/loadTaxonomy.js';
import { route, type ApiDeps } from './routes.js';

const obs = observability('api');

const isOverloaded = (error: unknown): boolean =>
  error instanceof TransientError ||
  (error instanceof Error && ['ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded'].includes(error.name));

/** `WEFT_API_JWT_ISSUER` and `WEFT_API_JWT_AUDIENCE` (comma-separated client ids), both or neither. */
const jwtFromEnv = (env: NodeJS.ProcessEnv): Pick<ApiDeps, 'jwt'> => {
  const issuer = env.WEFT_API_JWT_ISSUER?.trim();
  const audience = (env.WEFT_API_JWT_AUDIENCE ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  return issuer && audience.length > 0 ? { jwt: { issuer, audience } } : {};
};

const runtime = lazy((config): ApiDeps => {
  const models = loadModelSet(config.modelsDir);
  const modelVersions: Record<string, string> = {};
  if (models.image) modelVersions.image = modelVersion(models.image);
  if (models.text) modelVersions.text = modelVersion(models.text);
  const store = new ProductStore({ client: documentClient(), tableName: config.tableName, catalog: models.catalog, ensemble: models.ensemble });
  return {
    store,
    queries: new CatalogQueries(documentClient(), config.tableName, models.catalog, store.catalogIndex),
    images: imageUrlsFromEnv(process.env, s3Client, config.bucket),
    imageViews: imageViewsOf(models.image),
    catalog: models.catalog,
    modelVersions,
    taxonomy: loadTaxonomy(config.modelsDir, models.catalog, obs.logger),
    // Set by the CDK stack from the environment's API authorization and the console API's JWT
    // authorizer; the served document states both.
    authorization: process.env.WEFT_API_AUTHORIZATION === 'iam' ? 'iam' : 'none',
    ...jwtFromEnv(process.env),
  };
});

export const handler = wrapHandler(
  'api',
  obs,
  async (event: APIGatewayProxyEventV2, _context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
    obs.metrics.addMetric('ApiRequests', MetricUnit.Count, 1);
    try {
      return await route(event, await runtime());
    } catch (error) {
      if (isOverloaded(error)) return errorResponse(503, 'temporarily overloaded, retry shortly');
      // Store or configuration failures: logged in full, reported without internals.
      obs.logger.error('request failed', { path: event.rawPath, error: describeError(error) });
      return errorResponse(500, 'internal error');
    }
  },
);
