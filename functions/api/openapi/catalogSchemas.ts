/**
 * zod schemas of the console's routes (listing with facets, review queue, tasks, evidence,
 * calibration) and of the catalog statistics, held to the types the handler builds (catalogViews.ts) by the same exact-shape
 * check as schemas.ts. Task names and labels are marked, never listed (catalogEnums.ts).
 */
import { z } from 'zod';
import type { TaskCalibration } from '../../shared/products/calibration.js';
import type { Facets, SummaryAttribute } from '../../shared/products/catalogQueries.js';
import type { CatalogStatsView, ModelVersionCounts } from '../../shared/products/catalogStats.js';
import type { CalibrationReport, ImageEvidence, ImageViewInfo, ListedProduct, ProductEvidence, ProductListingResponse, ReviewEntry, ReviewPage, TaskInfo, TaskList } from '../catalogViews.js';
import { CATALOG_KEYWORD, LabelName, TaskName } from './schemas.js';

const byTask = <T extends z.ZodType>(value: T, description: string) => z.record(z.string(), value).meta({ description, [CATALOG_KEYWORD]: 'byTask' });
const probability = (description: string) => z.number().min(0).max(1).meta({ description });
const count = z.int().min(0);

// ── requests ────────────────────────────────────────────────────────────────────────────────────

export const ProductStatusName = z.enum(['pending', 'tagged', 'error']).meta({ description: '`error`: a source failed for good; `pending`: a source waits (for a retry or a model); else `tagged`.' });

/** `{task}:{label}`; the document lists every pair the loaded models have. */
export const AttributeFilter = z
  .string()
  .regex(/^[a-z][a-z0-9_]*:.+$/)
  .meta({ description: 'A merged value, `{task}:{label}`.', examples: ['category:dress'], [CATALOG_KEYWORD]: 'taskLabel' });

export const ConfidenceThreshold = z
  .number()
  .gt(0)
  .max(1)
  .meta({ description: 'Only products whose models’ confidence in `confidenceTask` is below this (a person’s correction is never below it).', examples: [0.5] });

// ── responses ───────────────────────────────────────────────────────────────────────────────────

export const SummaryAttributeSchema = z.object({
  value: LabelName.nullable().meta({ description: 'The merged label; null when the ensemble abstains.' }),
  confidence: probability('Combined confidence (1 for a correction).'),
  corrected: z.boolean().meta({ description: 'Set by a merchandiser.' }),
});

export const ListedProductSchema = z
  .object({
    vendor: z.string(),
    productId: z.string(),
    title: z.string().optional().meta({ description: 'product.json’s title.' }),
    status: ProductStatusName,
    thumbnail: z.string().optional().meta({ description: 'S3 key of the picture the grid shows: the first image’s first model view, else the upload.' }),
    thumbnailUrl: z.string().optional().meta({ description: 'Where a browser loads it from: a presigned GET on AWS (valid for minutes), a path of the local API server locally.' }),
    attributes: byTask(SummaryAttributeSchema, 'Merged value and confidence by task.'),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'ListedProduct' });

export const FacetsSchema = z
  .object({
    products: count.meta({ description: 'Products with a live source.' }),
    vendors: z.record(z.string(), count).meta({ description: 'Products per vendor.' }),
    status: z.partialRecord(ProductStatusName, count).meta({ description: 'Products per status (statuses without products left out).' }),
    values: byTask(z.record(LabelName, count), 'Products per merged value, by task.'),
    abstained: byTask(count, 'Products on which the ensemble abstains, by task.'),
    confidence: byTask(z.array(count).length(10), 'Histogram of the models’ confidence in tenths (the last bin includes 1), by task; corrections left out.'),
  })
  .meta({
    id: 'Facets',
    description:
      'Catalog-wide counts, not counts of the filtered result, kept by counters that every change of a product moves. A counter write lost after its product changed leaves that count off by one until the product changes again.',
  });

export const ProductListingSchema = z
  .object({
    items: z.array(ListedProductSchema),
    nextCursor: z.string().optional().meta({ description: 'Present while there is more: pass it back as `cursor` with the same filters. A page may hold fewer than `limit` products (even none) and still have one.' }),
    facets: FacetsSchema,
  })
  .meta({ id: 'ProductListing', description: 'One page of products that meet every filter, and the catalog’s facet counts.' });

export const CandidateSchema = z.object({ value: LabelName, p: probability('Probability of the label in the combined distribution.') });

export const ReviewEntrySchema = z
  .object({
    vendor: z.string(),
    productId: z.string(),
    title: z.string().optional(),
    thumbnail: z.string().optional(),
    thumbnailUrl: z.string().optional(),
    task: TaskName,
    value: LabelName.nullable().meta({ description: 'The merged label; null when the ensemble abstains.' }),
    confidence: probability('Combined confidence of the best label.'),
    margin: probability('Best minus second-best probability; the queue is ordered by it, lowest first.'),
    candidates: z.array(CandidateSchema).meta({ description: 'The best labels, most probable first (at most 3).' }),
  })
  .meta({ id: 'ReviewEntry' });

export const ReviewPageSchema = z
  .object({ items: z.array(ReviewEntrySchema), nextCursor: z.string().optional().meta({ description: 'Present while there is more: pass it back as `cursor` with the same query.' }) })
  .meta({ id: 'ReviewPage', description: 'Products whose task a person would help most with: lowest margin first, corrected ones left out.' });

export const TaskInfoSchema = z.object({
  name: TaskName,
  labels: z.array(LabelName).meta({ description: 'In manifest order.' }),
  threshold: probability('Below this confidence the ensemble abstains.'),
});

export const ImageViewInfoSchema = z.object({
  name: z.string().meta({ description: 'The view’s name in `derived/` keys.' }),
  kind: z.enum(['whole', 'center', 'garment']).meta({ description: '`whole`: the image letterboxed; `center`: its central `cropFraction` of each side; `garment`: the detector’s box, padded by `padding` on each side and squared.' }),
  cropFraction: z.number().gt(0).max(1).optional(),
  padding: z.number().min(0).optional(),
});

export const TaskListSchema = z
  .object({
    tasks: z.array(TaskInfoSchema),
    imageViews: z.array(ImageViewInfoSchema).meta({ description: 'The image model’s views in its input order.' }),
    modelVersions: z.record(z.string(), z.string()).meta({ description: 'Loaded model versions by modality.' }),
  })
  .meta({ id: 'TaskList', description: 'The tasks the loaded models predict, with their labels and abstain thresholds.' });

const ObjectLinkSchema = z.object({ key: z.string().meta({ description: 'S3 key.' }), url: z.string().meta({ description: 'Where a browser loads it from (presigned on AWS, valid for minutes).' }) });

export const ImageEvidenceSchema = ObjectLinkSchema.extend({
  views: z.record(z.string(), ObjectLinkSchema).meta({ description: 'The model views under `derived/` by view name (tagged images).' }),
});

export const ProductEvidenceSchema = z
  .object({
    vendor: z.string(),
    productId: z.string(),
    title: z.string().optional(),
    document: z.string().optional().meta({ description: 'product.json as uploaded (parsed and re-serialized, unknown fields kept; absent above 64 kB).' }),
    text: z.string().optional().meta({ description: 'The cleaned text the text model saw.' }),
    images: z.array(ImageEvidenceSchema),
  })
  .meta({ id: 'ProductEvidence', description: 'What the attributes were derived from: the vendor text before and after cleaning, and every image with its model views, with addresses a browser can load.' });

export const CalibrationPointSchema = z.object({
  threshold: probability('Answer only at this confidence or above…'),
  coverage: probability('…and this share of the corrected products is answered…'),
  accuracy: probability('…with this share of those answers right.'),
});

export const TaskCalibrationSchema = z.object({
  corrected: count.meta({ description: 'Corrected products whose models’ answer is known.' }),
  threshold: probability('The task’s abstain threshold.'),
  atThreshold: z.object({ coverage: probability('Share answered at the threshold.'), accuracy: probability('Share of those right.') }).optional(),
  curve: z.array(CalibrationPointSchema).meta({ description: 'From the most confident answer down (at most 50 points).' }),
});

export const CalibrationSchema = z
  .object({ tasks: byTask(TaskCalibrationSchema, 'By task.') })
  .meta({
    id: 'Calibration',
    description:
      'The models’ accuracy on products people corrected against the share they answer (accuracy/coverage as the abstain threshold moves), from the models’ answer each correction recorded. People correct the least certain products first, so it is a pessimistic sample.',
  });

export const ModelVersionCountsSchema = z
  .object({
    deployed: z.string().optional().meta({ description: 'The version the deployed manifest has, `{model name}@{version}` (absent when this deployment has no model of the modality).', examples: ['weft-image@2026.11.28'] }),
    versions: z.record(z.string(), count).meta({ description: 'Products whose every tagged source of the modality this version produced, by version (versions without products left out).' }),
    mixed: count.meta({ description: 'Products whose tagged sources of the modality were produced by more than one version.' }),
    stale: count.meta({ description: 'Products on another version than `deployed` (all counted ones when nothing is deployed), mixed ones included.' }),
    none: count.meta({ description: 'Products with no tagged source of the modality: none uploaded, or every one pending or failed.' }),
  })
  .meta({ id: 'ModelVersionCounts', description: 'One modality’s products by the model version that produced their predictions: each product counts once, under its version, as mixed, or as none.' });

export const CatalogStatsSchema = z
  .object({
    vendor: z.string().optional().meta({ description: 'The vendor the counts are restricted to, when one was asked for.' }),
    products: count.meta({ description: 'Products with a live source.' }),
    status: z.partialRecord(ProductStatusName, count).meta({ description: 'Products per status (statuses without products left out).' }),
    models: z.object({ image: ModelVersionCountsSchema, text: ModelVersionCountsSchema }).meta({ description: 'Per modality, products by model version.' }),
    vendors: z.record(z.string(), count).meta({ description: 'Products per vendor (vendors without products left out).' }),
  })
  .meta({
    id: 'CatalogStats',
    description:
      'Counts of the catalog (or of one vendor), kept by counters that every change of a product moves. A counter write lost after its product changed leaves that count off by one until `weft recount` corrects it.',
  });

// ── the code's types and the schemas must agree exactly ─────────────────────────────────────────

type Simplify<T> = T extends object ? { [K in keyof T]: Simplify<T[K]> } : T;
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const sameShape = <Schema extends z.ZodType, Type>(check: Equals<Simplify<z.output<Schema>>, Simplify<Type>>): void => void check;

sameShape<typeof SummaryAttributeSchema, SummaryAttribute>(true);
sameShape<typeof ListedProductSchema, ListedProduct>(true);
sameShape<typeof FacetsSchema, Facets>(true);
sameShape<typeof ProductListingSchema, ProductListingResponse>(true);
sameShape<typeof ReviewEntrySchema, ReviewEntry>(true);
sameShape<typeof ReviewPageSchema, ReviewPage>(true);
sameShape<typeof TaskInfoSchema, TaskInfo>(true);
sameShape<typeof ImageViewInfoSchema, ImageViewInfo>(true);
sameShape<typeof TaskListSchema, TaskList>(true);
sameShape<typeof ImageEvidenceSchema, ImageEvidence>(true);
sameShape<typeof ProductEvidenceSchema, ProductEvidence>(true);
sameShape<typeof TaskCalibrationSchema, TaskCalibration>(true);
sameShape<typeof CalibrationSchema, CalibrationReport>(true);
sameShape<typeof ModelVersionCountsSchema, ModelVersionCounts>(true);
sameShape<typeof CatalogStatsSchema, CatalogStatsView>(true);
