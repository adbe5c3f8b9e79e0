/**
 * The OpenAPI operations of the console's routes (catalogRoutes.ts). Built by operations.ts with
 * its response helpers, so every operation states the same common errors.
 */
import { z } from 'zod';
import type { ZodOpenApiResponseObject } from 'zod-openapi';
import { AttributeFilter, CalibrationSchema, CatalogStatsSchema, ConfidenceThreshold, ProductEvidenceSchema, ProductListingSchema, ProductStatusName, ReviewPageSchema, TaskListSchema } from './catalogSchemas.js';
import type { ApiOperation, RouteKey } from './operations.js';
import { Cursor, Limit, ProductId, TaskName, VendorId } from './schemas.js';

export interface ResponseHelpers {
  error: (description: string) => ZodOpenApiResponseObject;
  ok: (description: string, schema: z.ZodType) => ZodOpenApiResponseObject;
  common: Record<number, ZodOpenApiResponseObject>;
}

export const catalogOperations = ({ error, ok, common }: ResponseHelpers): Record<RouteKey, ApiOperation> => ({
  'GET /products': {
    operationId: 'listProducts',
    summary: 'Products filtered by vendor, attribute values, abstained tasks, low confidence and status, with facet counts',
    description:
      'Every filter must hold. The page is read from the index partition of the most selective filter (by the facet counts), the other filters checked on the products read; a page reads a bounded number of index pages, so it may hold fewer than `limit` products and still have a `nextCursor`.',
    tags: ['products'],
    requestParams: {
      query: z.object({
        vendor: VendorId.optional(),
        attribute: z.array(AttributeFilter).optional().meta({ description: 'Merged values the products must have, `{task}:{label}`; repeat for several (all must hold).' }),
        abstained: z.array(TaskName).optional().meta({ description: 'Tasks on which the ensemble abstains (`value: null`).' }),
        confidenceTask: TaskName.optional().meta({ description: 'The task `confidenceBelow` applies to (both or neither).' }),
        confidenceBelow: ConfidenceThreshold.optional(),
        status: ProductStatusName.optional(),
        limit: Limit.optional(),
        cursor: Cursor.optional(),
      }),
    },
    responses: {
      200: {
        ...ok('One page of products and the catalog’s facet counts.', ProductListingSchema),
        links: {
          getProductEvidence: {
            operationId: 'getProductEvidence',
            description: 'What the first product’s attributes were derived from.',
            parameters: { vendor: '$response.body#/items/0/vendor', productId: '$response.body#/items/0/productId' },
          },
        },
      },
      400: error('An invalid filter (unknown task or label, `confidenceBelow` without `confidenceTask` or the reverse, a threshold outside (0, 1]), `limit`, or a `cursor` this query did not return.'),
      ...common,
    },
  },
  'GET /review': {
    operationId: 'listReviewQueue',
    summary: 'The review queue of a task: products a person would help most with, lowest margin first',
    tags: ['corrections'],
    requestParams: { query: z.object({ task: TaskName.meta({ description: 'The task to review.' }), vendor: VendorId.optional(), limit: Limit.optional(), cursor: Cursor.optional() }) },
    responses: {
      200: {
        ...ok('One page of the queue.', ReviewPageSchema),
        links: {
          acceptCandidate: {
            operationId: 'correctAttribute',
            description: 'Accept the models’ best label for the first product of the page (it leaves the queue).',
            parameters: { vendor: '$response.body#/items/0/vendor', productId: '$response.body#/items/0/productId', task: '$request.query.task' },
            requestBody: { value: '$response.body#/items/0/candidates/0/value' },
          },
        },
      },
      400: error('`task` missing or unknown, an invalid `vendor` or `limit`, or a `cursor` this query did not return.'),
      ...common,
    },
  },
  'GET /tasks': {
    operationId: 'listTasks',
    summary: 'The tasks the loaded models predict, with their labels and abstain thresholds',
    tags: ['service'],
    responses: { 200: ok('The tasks.', TaskListSchema), ...common },
  },
  'GET /products/{vendor}/{productId}/evidence': {
    operationId: 'getProductEvidence',
    summary: 'What a product’s attributes were derived from: vendor text before and after cleaning, images and their model views',
    tags: ['products'],
    requestParams: { path: z.object({ vendor: VendorId, productId: ProductId }) },
    responses: {
      200: ok('The evidence, with addresses a browser can load the pictures from.', ProductEvidenceSchema),
      400: error('`vendor` or `productId` does not match the id pattern.'),
      404: error('No such product.'),
      ...common,
    },
  },
  'GET /calibration': {
    operationId: 'getCalibration',
    summary: 'The models’ accuracy on corrected products against the share they answer, per task',
    tags: ['corrections'],
    responses: { 200: ok('Per task: the accuracy/coverage curve and the point at the abstain threshold.', CalibrationSchema), ...common },
  },
  'GET /stats': {
    operationId: 'getCatalogStats',
    summary: 'Products per status, per model version of each modality (stale ones against the deployed models) and per vendor',
    description:
      'Read from counters the merges keep (eight Queries, never a scan), not by counting products. Per modality a product is on a version when every tagged source of that modality records it, `mixed` when they record several, and `none` without a tagged one; `stale` is every product on another version than the deployed manifest’s, mixed ones included.',
    tags: ['products'],
    requestParams: { query: z.object({ vendor: VendorId.optional().meta({ description: 'Only this vendor’s products (a vendor without products has zero counts).' }) }) },
    responses: {
      200: ok('The counts.', CatalogStatsSchema),
      400: error('An invalid `vendor`, or a query parameter other than `vendor`.'),
      ...common,
    },
  },
});
