/**
 * GET /products/{vendor}/{productId} in the representation asked for: the JSON view with taxonomy
 * ids, or schema.org JSON-LD (`Accept: application/ld+json` or `?format=jsonld`).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { own } from '../shared/ownKeys.js';
import type { ProductView } from '../shared/products/productView.js';
import { JSON_LD_CONTENT_TYPE, productJsonLd, wantsJsonLd } from '../shared/taxonomy/jsonLd.js';
import { withTaxonomy, type TaxonomyProductView } from '../shared/taxonomy/productTaxonomy.js';
import type { TaxonomyIndex } from '../shared/taxonomy/taxonomyIndex.js';
import { HttpError, json } from './http.js';

export const presentProduct = (view: ProductView, taxonomy: TaxonomyIndex | undefined): TaxonomyProductView => withTaxonomy(view, taxonomy);

export const productResponse = (view: ProductView, event: APIGatewayProxyEventV2, deps: { taxonomy?: TaxonomyIndex }): APIGatewayProxyStructuredResultV2 => {
  const ld = wantsJsonLd(own(event.headers ?? {}, 'accept'), own(event.queryStringParameters ?? {}, 'format'));
  if (ld === 'bad-format') throw new HttpError(400, 'format must be json or jsonld');
  // Caches must key the representation on Accept.
  if (ld) return { statusCode: 200, headers: { 'content-type': `${JSON_LD_CONTENT_TYPE}; charset=utf-8`, vary: 'accept' }, body: JSON.stringify(productJsonLd(view, deps.taxonomy)) };
  const response = json(200, presentProduct(view, deps.taxonomy));
  return { ...response, headers: { ...response.headers, vary: 'accept' } };
};
