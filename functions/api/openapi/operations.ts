/**
 * One OpenAPI operation per resource route of routeTable.ts (HEAD and OPTIONS are derived from
 * these in document.ts), keyed `METHOD path`. Parameters, bodies and responses are the zod
 * schemas of schemas.ts; `links` tie the operations into the flows a client follows (list → get
 * → correct → corrections export), which the contract test walks.
 */
import { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiResponseObject } from 'zod-openapi';
import type { ApiMethod } from '../routeTable.js';
import { DOCS_ASSETS } from './docsAssets.js';
import { catalogOperations } from './catalogOperations.js';
import {
  AttributeMatchPage,
  CorrectionPage,
  CorrectionRequest,
  Cursor,
  ErrorBody,
  HealthSchema,
  LabelName,
  Limit,
  ProductId,
  ProductJsonLdSchema,
  ProductResponseSchema,
  RejectionPage,
  Since,
  TaskName,
  VendorId,
} from './schemas.js';

export type RouteKey = `${ApiMethod} ${string}`;

export interface ApiOperation extends ZodOpenApiOperationObject {
  operationId: string;
  /** Served without authorization (the document and its reference pages hold no catalog data). */
  public?: boolean;
}

const error = (description: string): ZodOpenApiResponseObject => ({ description, content: { 'application/json': { schema: ErrorBody } } });
const ok = (description: string, schema: z.ZodType): ZodOpenApiResponseObject => ({ description, content: { 'application/json': { schema } } });

/** What any route may answer besides its own responses. */
const COMMON_ERRORS = {
  403: error('Refused before the handler: on AWS a request without a valid SigV4 signature (IAM); locally a request from a foreign Host or Origin.'),
  429: error('API Gateway throttled the request (`{"message": "Too Many Requests"}`); retry with backoff.'),
  500: error('Internal error (logged); `{"message": "internal error"}`.'),
  503: error('The store is temporarily overloaded; retry shortly.'),
} as const;

const productPath = z.object({ vendor: VendorId, productId: ProductId });
const correctionPath = productPath.extend({ task: TaskName });

const productLinks = {
  correctAttribute: {
    operationId: 'correctAttribute',
    description: 'Correct one of this product’s attributes.',
    parameters: { vendor: '$response.body#/vendor', productId: '$response.body#/productId' },
  },
};

export const OPERATIONS: Record<RouteKey, ApiOperation> = {
  'GET /health': {
    operationId: 'getHealth',
    summary: 'Liveness, loaded model versions and tasks',
    tags: ['service'],
    responses: { 200: ok('The API is up.', HealthSchema), ...COMMON_ERRORS },
  },
  'GET /products/{vendor}/{productId}': {
    operationId: 'getProduct',
    summary: 'One product: merged attributes with the per-source breakdown, image and text status',
    tags: ['products'],
    requestParams: { path: productPath, query: z.object({ format: z.enum(['json', 'jsonld']).optional().meta({ description: 'The representation, instead of Accept.' }) }) },
    responses: {
      200: {
        description: 'The product: JSON, or schema.org JSON-LD for `Accept: application/ld+json` or `?format=jsonld`.',
        content: { 'application/json': { schema: ProductResponseSchema }, 'application/ld+json': { schema: ProductJsonLdSchema } },
        links: productLinks,
      },
      400: error('`vendor` or `productId` does not match the id pattern, or `format` is neither json nor jsonld.'),
      404: error('No such product (never uploaded, or every source deleted).'),
      ...COMMON_ERRORS,
    },
  },
  'PUT /products/{vendor}/{productId}/attributes/{task}': {
    operationId: 'correctAttribute',
    summary: 'Set a human correction of one attribute (it always wins)',
    tags: ['corrections'],
    requestParams: { path: correctionPath },
    requestBody: { required: true, content: { 'application/json': { schema: CorrectionRequest } } },
    responses: {
      200: {
        ...ok('The product after the correction.', ProductResponseSchema),
        links: {
          listCorrections: { operationId: 'listCorrections', description: 'The correction is exported for retraining.', parameters: { limit: '100' } },
          removeCorrection: {
            operationId: 'removeCorrection',
            description: 'Undo this correction.',
            parameters: { vendor: '$request.path.vendor', productId: '$request.path.productId', task: '$request.path.task' },
          },
        },
      },
      400: error('Invalid ids, or the body is not JSON `{"value": "<label>"}` with a label of the task.'),
      404: error('Unknown task, or no such product.'),
      413: error('The body exceeds 10 MiB (API Gateway’s payload limit).'),
      ...COMMON_ERRORS,
    },
  },
  'DELETE /products/{vendor}/{productId}/attributes/{task}': {
    operationId: 'removeCorrection',
    summary: 'Remove the human correction of one attribute',
    tags: ['corrections'],
    requestParams: { path: correctionPath },
    responses: {
      200: {
        ...ok('The product after the correction was removed.', ProductResponseSchema),
        links: { getProduct: { operationId: 'getProduct', parameters: { vendor: '$request.path.vendor', productId: '$request.path.productId' } } },
      },
      400: error('`vendor` or `productId` does not match the id pattern.'),
      404: error('Unknown task, or no correction of it on this product.'),
      ...COMMON_ERRORS,
    },
  },
  'GET /attributes/{task}/{value}': {
    operationId: 'listProductsByAttribute',
    summary: 'Products whose merged value of a task is a label',
    tags: ['products'],
    requestParams: {
      path: z.object({ task: TaskName, value: LabelName }),
      query: z.object({ vendor: VendorId.optional(), limit: Limit.optional(), cursor: Cursor.optional() }),
    },
    responses: {
      200: {
        ...ok('One page of matches.', AttributeMatchPage),
        links: {
          getProduct: {
            operationId: 'getProduct',
            description: 'The first product of the page.',
            parameters: { vendor: '$response.body#/items/0/vendor', productId: '$response.body#/items/0/productId' },
          },
          correctAttribute: {
            operationId: 'correctAttribute',
            description: 'Confirm the value on the first product of the page as a human correction.',
            parameters: { vendor: '$response.body#/items/0/vendor', productId: '$response.body#/items/0/productId', task: '$request.path.task' },
            requestBody: { value: '$request.path.value' },
          },
        },
      },
      400: error('Invalid `vendor` or `limit`, or a `cursor` this query did not return.'),
      404: error('Unknown task, or a value that is not one of its labels.'),
      ...COMMON_ERRORS,
    },
  },
  'GET /rejections': {
    operationId: 'listRejections',
    summary: 'Recent uploads whose key fits no product, with the reason',
    tags: ['uploads'],
    requestParams: { query: z.object({ limit: Limit.optional(), cursor: Cursor.optional() }) },
    responses: {
      200: ok('One page of rejections, newest first.', RejectionPage),
      400: error('Invalid `limit`, or a `cursor` this query did not return.'),
      ...COMMON_ERRORS,
    },
  },
  'GET /corrections': {
    operationId: 'listCorrections',
    summary: 'Human corrections as labeled examples for retraining',
    tags: ['corrections'],
    requestParams: { query: z.object({ since: Since.optional(), limit: Limit.optional(), cursor: Cursor.optional() }) },
    responses: {
      200: {
        ...ok('One page of corrected products, oldest correction first.', CorrectionPage),
        links: {
          getProduct: {
            operationId: 'getProduct',
            description: 'The first corrected product of the page.',
            parameters: { vendor: '$response.body#/items/0/vendor', productId: '$response.body#/items/0/productId' },
          },
        },
      },
      400: error('Invalid `since` or `limit`, or a `cursor` this query did not return.'),
      ...COMMON_ERRORS,
    },
  },
  ...catalogOperations({ error, ok, common: COMMON_ERRORS }),
  'GET /openapi.json': {
    operationId: 'getOpenApiDocument',
    summary: 'This document',
    tags: ['service'],
    public: true,
    responses: { 200: ok('The OpenAPI 3.1 document of this deployment (its tasks and labels included).', z.record(z.string(), z.unknown())), ...COMMON_ERRORS },
  },
  'GET /docs': {
    operationId: 'getDocs',
    summary: 'Browsable API reference (Swagger UI) of this document',
    tags: ['service'],
    public: true,
    responses: { 200: { description: 'The reference page.', content: { 'text/html': { schema: z.string() } } }, ...COMMON_ERRORS },
  },
  'GET /docs/{asset}': {
    operationId: 'getDocsAsset',
    summary: 'Scripts, styles and icon of the reference page',
    tags: ['service'],
    public: true,
    requestParams: { path: z.object({ asset: z.enum(Object.keys(DOCS_ASSETS) as [string, ...string[]]) }) },
    responses: {
      200: {
        description: 'The file.',
        content: Object.fromEntries([...new Set(Object.values(DOCS_ASSETS).map((a) => a.contentType))].map((type) => [type, { schema: z.string() }])),
      },
      404: error('No such file.'),
      ...COMMON_ERRORS,
    },
  },
};

/** The query parameters an operation takes (HEAD: its GET's); the handler refuses any other. */
export const queryParameterNames = (method: ApiMethod, path: string): string[] => {
  const operation = OPERATIONS[`${method === 'HEAD' ? 'GET' : method} ${path}` as RouteKey];
  const query = operation?.requestParams?.query;
  return query instanceof z.ZodObject ? Object.keys(query.shape) : [];
};
