/**
 * zod schemas of what the API takes and returns: the source of its OpenAPI document
 * (document.ts). Each response schema is held to the TypeScript type the code builds the
 * response as (productView.ts, productStore.ts) by a compile-time equality check at the bottom of
 * this file, so a field added to a view without its schema — or the reverse — fails
 * `npm run typecheck` instead of drifting out of the contract.
 *
 * Task names and labels are not listed anywhere in code: strings that are task names or labels,
 * and maps keyed by task, carry a marker (`catalogName`, `byTask`) that catalogEnums.ts replaces
 * with the loaded manifests' names when the document is built.
 */
import { z } from 'zod';
import { ID_PATTERN } from '../../shared/layout.js';
import type { TaskAttribute, SourceVote } from '../../shared/products/ensemble.js';
import type { GarmentBox, VendorColor } from '../../shared/products/items.js';
import type { AttributeMatch, CorrectionExample, Page, ProductStore } from '../../shared/products/productStore.js';
import type { ImageView, ProductView, TextView } from '../../shared/products/productView.js';
import type { ColorAudiences } from '../../shared/taxonomy/colors.js';
import type { TaxonomyAttribute, TaxonomyProductView } from '../../shared/taxonomy/productTaxonomy.js';
import { MAX_LIMIT } from '../limits.js';

/** JSON Schema keyword the markers use; catalogEnums.ts removes it from the published document. */
export const CATALOG_KEYWORD = 'x-weft-catalog';
export type CatalogMarker = 'task' | 'label' | 'byTask' | 'taskLabel';

/** A string that is a task name (`task`) or a label of a task (`label`). */
const catalogName = (kind: 'task' | 'label', description: string) => z.string().meta({ description, [CATALOG_KEYWORD]: kind });
/** An object keyed by task name; label markers inside `value` become that task's labels. */
const byTask = <T extends z.ZodType>(value: T, description: string) => z.record(z.string(), value).meta({ description, [CATALOG_KEYWORD]: 'byTask' });

const probability = (description: string) => z.number().min(0).max(1).meta({ description });
const isoTime = (description: string) => z.iso.datetime().meta({ description });

// ── requests ────────────────────────────────────────────────────────────────────────────────────

export const VendorId = z.string().regex(ID_PATTERN).meta({ description: 'Vendor id, as in the upload key `{vendor}/{productId}/…`.', examples: ['acme'] });
export const ProductId = z.string().regex(ID_PATTERN).meta({ description: "The vendor's product id, as in the upload key.", examples: ['p-1'] });
export const TaskName = catalogName('task', 'An attribute (task) the loaded models predict.');
export const LabelName = catalogName('label', 'A label of the task.');

/** Page cursors are base64url; an empty one is the first page. */
export const Cursor = z
  .string()
  .regex(/^[A-Za-z0-9_-]*$/)
  .meta({ description: 'Opaque `nextCursor` of the previous page of the same query; any other value is a 400.' });
export const Limit = z.int().min(1).max(MAX_LIMIT).meta({ description: `Items per page, 1 to ${MAX_LIMIT}.` });
export const Since = z.iso.datetime({ offset: true }).meta({ description: 'Only corrections made after this time (ISO 8601).', examples: ['2026-11-28T00:00:00Z'] });

export const CorrectionRequest = z.object({ value: LabelName }).meta({ id: 'CorrectionRequest', description: 'The label a merchandiser sets; it must be one of the task’s labels.' });

// ── responses ───────────────────────────────────────────────────────────────────────────────────

export const ErrorBody = z
  .object({ message: z.string().meta({ description: 'What was wrong, for a person to read.' }) })
  .meta({ id: 'Error', description: 'Every error, from the handler and from API Gateway alike.' });

export const SourceVoteSchema = z.object({
  value: LabelName,
  confidence: probability('The source’s probability for its value.'),
  weight: probability('Share of this source in the combination (0 when a human correction overrode it).'),
});

export const TaskAttributeSchema = z.object({
  value: LabelName.nullable().meta({ description: 'The merged label; null when the ensemble abstains (below the task’s threshold).' }),
  confidence: probability('Combined confidence of the value.'),
  sources: z.record(z.string(), SourceVoteSchema).meta({ description: 'Per-source votes by source id: `image:{name}`, `text`, `rules`, `human`.' }),
});

const pendingFailure = {
  lastError: z.string().optional().meta({ description: 'Pending after a failed attempt: its error message.' }),
  lastErrorCode: z.string().optional(),
  attempts: z.int().min(1).optional().meta({ description: 'Deliveries so far.' }),
  lastAttemptAt: isoTime('When the last attempt failed.').optional(),
};

export const GarmentBoxSchema = z
  .object({
    x: z.number().min(0).max(1).meta({ description: 'Left edge, as a fraction of the image width (after EXIF orientation).' }),
    y: z.number().min(0).max(1).meta({ description: 'Top edge, as a fraction of the image height.' }),
    w: z.number().min(0).max(1).meta({ description: 'Width, as a fraction of the image width.' }),
    h: z.number().min(0).max(1).meta({ description: 'Height, as a fraction of the image height.' }),
    score: probability('The detector’s estimate of how well the box fits the garment (its IoU). Below the view’s minScore the garment view was cut from the whole image; the box stays the detector’s own.'),
  })
  .meta({ id: 'GarmentBox', description: 'Box of the detected garment in image coordinates (0..1, top-left origin).' });

export const ImageViewSchema = z
  .object({
    key: z.string().meta({ description: 'Upload key of the image.' }),
    status: z.enum(['pending', 'tagged', 'error']),
    error: z.string().optional().meta({ description: 'Why the image was refused (status error).' }),
    errorCode: z.string().optional().meta({ examples: ['unsupported_format'] }),
    views: z
      .record(z.string(), z.string())
      .optional()
      .meta({
        description: 'Keys of the model views under `derived/` by view name, as the image model manifest declares them (tagged images).',
        examples: [{ downsampled: 'derived/acme/p1/images/front.jpg/downsampled', center: 'derived/acme/p1/images/front.jpg/center', garment: 'derived/acme/p1/images/front.jpg/garment' }],
      }),
    box: GarmentBoxSchema.optional().meta({ description: 'The detected garment, for images tagged by a model with a garment view.' }),
    ...pendingFailure,
  })
  .meta({ id: 'ImageStatus' });

export const TextViewSchema = z
  .object({
    status: z.enum(['pending', 'tagged', 'error', 'missing']).meta({ description: '`missing` until a product.json is uploaded.' }),
    key: z.string().optional(),
    error: z.string().optional(),
    errorCode: z.string().optional().meta({ examples: ['missing_title'] }),
    ...pendingFailure,
  })
  .meta({ id: 'TextStatus' });

export const VendorColorSchema = z
  .object({ raw: z.string().meta({ description: 'The vendor’s color name.' }), normalized: z.string().meta({ description: 'The base color it maps to.' }) })
  .meta({ id: 'VendorColor' });

export const ProductViewSchema = z
  .object({
    vendor: z.string(),
    productId: z.string(),
    attributes: byTask(TaskAttributeSchema, 'Merged attributes by task, with the per-source breakdown.'),
    images: z.array(ImageViewSchema),
    text: TextViewSchema,
    vendorColor: VendorColorSchema.optional(),
    corrections: byTask(LabelName, 'Labels set by a merchandiser (they also appear as the `human` source).'),
    modelVersions: z.record(z.string(), z.string()).meta({ description: 'Model versions behind the predictions, by kind.', examples: [{ image: 'weft-image@2026.11.28' }] }),
    updatedAt: isoTime('Last change of any of the product’s sources.'),
  });

/** The Shopify (and, for categories, Google) taxonomy entry of an attribute's value. */
export const AttributeTaxonomySchema = z
  .object({
    shopify: z.object({
      id: z.string().meta({ examples: ['gid://shopify/TaxonomyValue/2'] }),
      handle: z.string().optional().meta({ examples: ['color__red'] }),
      name: z.string(),
      fullName: z.string().optional(),
    }),
    google: z.object({ id: z.string(), path: z.string() }).optional().meta({ description: 'Google product category (categories only).' }),
  })
  .meta({ id: 'AttributeTaxonomy' });

export const TaxonomyAttributeSchema = TaskAttributeSchema.extend({
  taxonomy: AttributeTaxonomySchema.optional().meta({ description: 'Present when the value is mapped to the taxonomy.' }),
});

export const ColorAudiencesSchema = z
  .object({
    family: z
      .object({ value: LabelName, name: z.string().optional(), confidence: probability('Confidence of the family.'), source: z.enum(['human', 'models']) })
      .optional()
      .meta({ description: 'The normalized family, for facets (absent when the models abstain).' }),
    vendor: z.object({ name: z.string(), family: z.string() }).optional().meta({ description: 'The vendor’s color name and the family it normalizes to.' }),
    google: z.object({ value: z.string(), from: z.enum(['vendor', 'family']) }).optional().meta({ description: 'Google’s `color` (≤ 40 characters per color, up to 3 joined by "/").' }),
  })
  .meta({ id: 'ColorAudiences' });

/** What GET/PUT/DELETE on a product return: the view, with taxonomy ids where the mapping has them. */
export const ProductResponseSchema = ProductViewSchema.extend({
  attributes: byTask(TaxonomyAttributeSchema, 'Merged attributes by task, with the per-source breakdown and taxonomy ids.'),
  colors: ColorAudiencesSchema.optional(),
  taxonomy: z.object({ shopify: z.string(), google: z.string() }).optional().meta({ description: 'Taxonomy releases the ids belong to.' }),
}).meta({ id: 'Product' });

/** schema.org `Product` (Accept: application/ld+json or ?format=jsonld); its other properties follow the taxonomy mapping. */
export const ProductJsonLdSchema = z
  .looseObject({ '@context': z.literal('https://schema.org'), '@type': z.literal('Product'), productID: z.string().meta({ examples: ['acme/p-1'] }) })
  .meta({ id: 'ProductJsonLd' });

export const AttributeMatchSchema = z.object({ vendor: z.string(), productId: z.string(), confidence: probability('Confidence of the value on this product.') });

const page = <T extends z.ZodType>(item: T, id: string, description: string) =>
  z
    .object({
      items: z.array(item),
      nextCursor: z.string().optional().meta({ description: 'Present while there is more: pass it back as `cursor` with the same query.' }),
    })
    .meta({ id, description });

export const AttributeMatchPage = page(AttributeMatchSchema, 'AttributeMatches', 'Products whose merged value of the task is the label.');

export const RejectionSchema = z.object({
  key: z.string().meta({ description: 'The object key that fits no product.' }),
  bucket: z.string().optional(),
  code: z.string().meta({ examples: ['outside_layout'] }),
  reason: z.string(),
  eventTime: isoTime('When S3 reported the upload.'),
  recordedAt: isoTime('When Weft recorded the rejection.'),
});
export const RejectionPage = page(RejectionSchema, 'Rejections', 'Recent uploads whose key fits no product, newest first.');

export const CorrectionExampleSchema = z.object({
  vendor: z.string(),
  productId: z.string(),
  correctedAt: isoTime('Latest correction of this product.'),
  labels: byTask(LabelName, 'All current corrections of the product.'),
  images: z.array(z.string()).meta({ description: 'Upload keys of the product’s images.' }),
  text: z.string().optional().meta({ description: 'The cleaned text the text model saw.' }),
});
export const CorrectionPage = page(CorrectionExampleSchema, 'Corrections', 'Human corrections as labeled examples for retraining, oldest first.');

export const HealthSchema = z
  .object({
    status: z.literal('ok'),
    modelVersions: z.record(z.string(), z.string()).meta({ description: 'Loaded model versions by modality.' }),
    tasks: z.array(TaskName).meta({ description: 'Tasks the loaded models predict.' }),
  })
  .meta({ id: 'Health' });

// ── the code's types and the schemas must agree exactly ─────────────────────────────────────────

/** Intersections and interfaces flattened into plain object types, so only the shape is compared. */
type Simplify<T> = T extends object ? { [K in keyof T]: Simplify<T[K]> } : T;
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Fails to compile unless `Schema`'s output type is exactly `Type` (no field more or less, optional or not). */
const sameShape = <Schema extends z.ZodType, Type>(check: Equals<Simplify<z.output<Schema>>, Simplify<Type>>): void => void check;

sameShape<typeof SourceVoteSchema, SourceVote>(true);
sameShape<typeof TaskAttributeSchema, TaskAttribute>(true);
sameShape<typeof ImageViewSchema, ImageView>(true);
sameShape<typeof GarmentBoxSchema, GarmentBox>(true);
sameShape<typeof TextViewSchema, TextView>(true);
sameShape<typeof VendorColorSchema, VendorColor>(true);
sameShape<typeof ProductViewSchema, ProductView>(true);
sameShape<typeof TaxonomyAttributeSchema, TaxonomyAttribute>(true);
sameShape<typeof ColorAudiencesSchema, ColorAudiences>(true);
sameShape<typeof ProductResponseSchema, TaxonomyProductView>(true);
sameShape<typeof AttributeMatchPage, Page<AttributeMatch>>(true);
sameShape<typeof RejectionPage, Awaited<ReturnType<ProductStore['listRejections']>>>(true);
sameShape<typeof CorrectionPage, Page<CorrectionExample>>(true);
