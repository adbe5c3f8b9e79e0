/**
 * The console's routes: the catalog listing with facet counts, the review queue, the tasks with
 * their labels, a product's evidence (texts and pictures a browser can load) and the models'
 * accuracy on corrected products. Filters name tasks and labels of the loaded manifests only.
 *
 *   GET /products?vendor=&attribute={task}:{label}&abstained={task}&confidenceTask=&confidenceBelow=&status=&limit=&cursor=
 *   GET /review?task=&vendor=&limit=&cursor=
 *   GET /tasks
 *   GET /products/{vendor}/{productId}/evidence
 *   GET /calibration
 *   GET /stats?vendor=        products per status, per model version of each modality (stale ones against the deployed models) and per vendor
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ID_PATTERN } from '../shared/layout.js';
import { own, setOwn } from '../shared/ownKeys.js';
import { calibrate, type TaskCalibration } from '../shared/products/calibration.js';
import { PRODUCT_STATUSES, type ListingFilters } from '../shared/products/catalogQueries.js';
import { taskSettings, type TaskCatalog } from '../shared/products/ensemble.js';
import { titleOf, type ProductStatus } from '../shared/products/listing.js';
import type { CatalogStatsView } from '../shared/products/catalogStats.js';
import { buildProductView, liveSources, splitPartition } from '../shared/products/productView.js';
import type { Manifest } from '../shared/manifest.js';
import type { CalibrationReport, ImageEvidence, ImageViewInfo, ProductEvidence, ProductListingResponse, ReviewPage, TaskList } from './catalogViews.js';
import { HttpError, json } from './http.js';
import { DEFAULT_LIMIT, MAX_LIMIT } from './limits.js';
import type { Route } from './routes.js';

type Query = Record<string, string | undefined>;

/** The image manifest's views as the console draws them. */
export const imageViewsOf = (image: Pick<Manifest, 'preprocessing'> | undefined): ImageViewInfo[] => {
  const settings = image?.preprocessing.image;
  if (!settings) return [];
  return settings.views.map((view): ImageViewInfo =>
    view.kind === 'center' ? { name: view.name, kind: 'center', cropFraction: settings.centerCropFraction } : view.kind === 'garment' ? { name: view.name, kind: 'garment', padding: view.padding } : { name: view.name, kind: view.kind },
  );
};

const queryOf = (event: APIGatewayProxyEventV2): Query => event.queryStringParameters ?? {};

const vendorParam = (raw: string | undefined): string | undefined => {
  if (raw === undefined) return undefined;
  if (!ID_PATTERN.test(raw)) throw new HttpError(400, `invalid vendor "${raw}": must match ${ID_PATTERN.source}`);
  return raw;
};

const limitParam = (raw: string | undefined): number => {
  if (raw === undefined) return DEFAULT_LIMIT;
  const limit = /^[0-9]{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_LIMIT)) throw new HttpError(400, `limit must be an integer from 1 to ${MAX_LIMIT}`);
  return limit;
};

const cursorParam = (raw: string | undefined): string | undefined => {
  if (raw === undefined || raw === '') return undefined;
  if (!/^[A-Za-z0-9_-]+$/.test(raw)) throw new HttpError(400, 'invalid cursor: not a cursor this API returned');
  return raw;
};

const taskParam = (catalog: TaskCatalog, raw: string, what: string): string => {
  if (own(catalog, raw) === undefined) throw new HttpError(400, `${what}: unknown task "${raw}"; known tasks: ${Object.keys(catalog).join(', ')}`);
  return raw;
};

/**
 * Repeated query parameters arrive joined by commas (API Gateway and the local server alike), and
 * a label may itself contain one: a new value starts only where a piece begins with a known task
 * and a colon.
 */
export const attributeFilters = (catalog: TaskCatalog, raw: string | undefined): { task: string; value: string }[] => {
  if (raw === undefined) return [];
  const values: string[] = [];
  for (const piece of raw.split(',')) {
    const task = /^([a-z][a-z0-9_]*):/.exec(piece)?.[1];
    if (task !== undefined && own(catalog, task) !== undefined) values.push(piece);
    else if (values.length > 0) values[values.length - 1] += `,${piece}`;
    else throw new HttpError(400, `attribute must be {task}:{label} with a known task (${Object.keys(catalog).join(', ')}), got "${piece}"`);
  }
  return values.map((entry) => {
    const colon = entry.indexOf(':');
    const task = entry.slice(0, colon);
    const value = entry.slice(colon + 1);
    const labels = own(catalog, task)!;
    if (!labels.includes(value)) throw new HttpError(400, `attribute ${task}: unknown label "${value}"; labels: ${labels.join(', ')}`);
    return { task, value };
  });
};

const filtersOf = (catalog: TaskCatalog, query: Query): ListingFilters => {
  const filters: ListingFilters = {};
  const vendor = vendorParam(query.vendor);
  if (vendor !== undefined) filters.vendor = vendor;
  const attributes = attributeFilters(catalog, query.attribute);
  if (attributes.length > 0) filters.attributes = attributes;
  if (query.abstained !== undefined) filters.abstained = [...new Set(query.abstained.split(',').map((task) => taskParam(catalog, task, 'abstained')))];
  if ((query.confidenceBelow === undefined) !== (query.confidenceTask === undefined)) throw new HttpError(400, 'confidenceBelow and confidenceTask go together: the threshold and the task it applies to');
  if (query.confidenceBelow !== undefined && query.confidenceTask !== undefined) {
    const threshold = query.confidenceBelow.trim() === '' ? Number.NaN : Number(query.confidenceBelow);
    if (!(Number.isFinite(threshold) && threshold > 0 && threshold <= 1)) throw new HttpError(400, 'confidenceBelow must be a number above 0 and at most 1');
    filters.confidenceBelow = { task: taskParam(catalog, query.confidenceTask, 'confidenceTask'), threshold };
  }
  if (query.status !== undefined) {
    if (!(PRODUCT_STATUSES as readonly string[]).includes(query.status)) throw new HttpError(400, `status must be one of ${PRODUCT_STATUSES.join(', ')}`);
    filters.status = query.status as ProductStatus;
  }
  return filters;
};

const withThumbnailUrl = async <T extends { thumbnail?: string }>(item: T, url: (key: string) => Promise<string>): Promise<T & { thumbnailUrl?: string }> =>
  item.thumbnail === undefined ? item : { ...item, thumbnailUrl: await url(item.thumbnail) };

export const catalogRoutes: Route[] = [
  {
    method: 'GET',
    path: '/products',
    handle: async (_m, event, { catalog, queries, images }) => {
      const query = queryOf(event);
      const filters = filtersOf(catalog, query);
      const cursor = cursorParam(query.cursor);
      const listing = await queries.listProducts(filters, { limit: limitParam(query.limit), ...(cursor ? { cursor } : {}) });
      const body: ProductListingResponse = { ...listing, items: await Promise.all(listing.items.map((item) => withThumbnailUrl(item, (key) => images.url(key)))) };
      return json(200, body);
    },
  },
  {
    method: 'GET',
    path: '/review',
    handle: async (_m, event, { catalog, queries, images }) => {
      const query = queryOf(event);
      if (query.task === undefined) throw new HttpError(400, `task is required: the queue is per task (${Object.keys(catalog).join(', ')})`);
      const task = taskParam(catalog, query.task, 'task');
      const vendor = vendorParam(query.vendor);
      const cursor = cursorParam(query.cursor);
      const page = await queries.reviewQueue(task, { limit: limitParam(query.limit), ...(vendor ? { vendor } : {}), ...(cursor ? { cursor } : {}) });
      const body: ReviewPage = { ...page, items: await Promise.all(page.items.map((item) => withThumbnailUrl(item, (key) => images.url(key)))) };
      return json(200, body);
    },
  },
  {
    method: 'GET',
    path: '/tasks',
    handle: async (_m, _e, { catalog, store, modelVersions, imageViews }) => {
      const body: TaskList = {
        tasks: Object.entries(catalog).map(([name, labels]) => ({ name, labels: [...labels], threshold: taskSettings(store.ensemble, name).threshold })),
        imageViews: imageViews ?? [],
        modelVersions,
      };
      return json(200, body);
    },
  },
  {
    method: 'GET',
    path: '/products/{vendor}/{productId}/evidence',
    handle: async ([vendor, productId], _e, { store, images }) => {
      for (const [value, what] of [
        [vendor!, 'vendor'],
        [productId!, 'productId'],
      ] as const) {
        if (!ID_PATTERN.test(value)) throw new HttpError(400, `invalid ${what} "${value}": must match ${ID_PATTERN.source}`);
      }
      const items = await store.readPartition(vendor!, productId!);
      const view = buildProductView(items);
      if (!view) throw new HttpError(404, `product ${vendor}/${productId} not found`);
      const live = liveSources(splitPartition(items).sources);
      const text = live.find((s) => s.kind === 'text');
      const link = async (key: string) => ({ key, url: await images.url(key) });
      const evidence: ProductEvidence = {
        vendor: view.vendor,
        productId: view.productId,
        ...(titleOf(live) !== undefined ? { title: titleOf(live)! } : {}),
        ...(text?.document !== undefined ? { document: text.document } : {}),
        ...(text?.text !== undefined ? { text: text.text } : {}),
        images: await Promise.all(
          view.images.map(
            async (image): Promise<ImageEvidence> => ({
              ...(await link(image.key)),
              views: Object.fromEntries(await Promise.all(Object.entries(image.views ?? {}).map(async ([name, key]) => [name, await link(key)] as const))),
            }),
          ),
        ),
      };
      return json(200, evidence);
    },
  },
  {
    method: 'GET',
    path: '/calibration',
    handle: async (_m, _e, { catalog, store, queries }) => {
      const outcomes = await queries.correctionOutcomes();
      const tasks: Record<string, TaskCalibration> = {};
      for (const task of Object.keys(catalog)) {
        const labels = own(catalog, task)!;
        setOwn(tasks, task, calibrate(outcomes.filter((o) => o.task === task && labels.includes(o.value)), taskSettings(store.ensemble, task).threshold));
      }
      const body: CalibrationReport = { tasks };
      return json(200, body);
    },
  },
  {
    method: 'GET',
    path: '/stats',
    handle: async (_m, event, { store, modelVersions }) => {
      const vendor = vendorParam(queryOf(event).vendor);
      // Counters only (eight Queries); the deployed versions are the loaded manifests'.
      const body: CatalogStatsView = await store.catalogIndex.stats.read(modelVersions, vendor);
      return json(200, body);
    },
  },
];
