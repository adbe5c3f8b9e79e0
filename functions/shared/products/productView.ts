/**
 * What the API returns for one product, built from the items of its partition. Pure.
 */
import { derivedViewKey } from '../layout.js';
import type { Attributes, EnsembleSource, TaskCatalog } from './ensemble.js';
import { oneHot } from './ensemble.js';
import { own } from '../ownKeys.js';
import type { GarmentBox, PartitionItem, ProductItem, SourceItem, SourceStatus, VendorColor } from './items.js';
import { ATTRIBUTE_SK_PREFIX, PRODUCT_SK, SOURCE_SK_PREFIX } from './keys.js';

/** Present while a source is pending after its message failed: the last failure and attempt. */
export interface PendingFailure {
  lastError?: string;
  lastErrorCode?: string;
  /** Delivery attempts so far (SQS ApproximateReceiveCount of the failed one). */
  attempts?: number;
  lastAttemptAt?: string;
}

export interface ImageView extends PendingFailure {
  key: string;
  status: Exclude<SourceStatus, 'deleted'>;
  error?: string;
  errorCode?: string;
  /** Keys of the model views kept under derived/, by view name (tagged images only). */
  views?: Record<string, string>;
  /** The garment detector's box in image coordinates, with its score (images tagged with a detector). */
  box?: GarmentBox;
}

/** The views of images tagged before the manifest declared its views: the two-view contract. */
const LEGACY_VIEWS = ['downsampled', 'center'];

export interface TextView extends PendingFailure {
  /** `missing` until a product.json was uploaded (or after it was deleted). */
  status: Exclude<SourceStatus, 'deleted'> | 'missing';
  key?: string;
  error?: string;
  errorCode?: string;
}

export interface ProductView {
  vendor: string;
  productId: string;
  attributes: Attributes;
  images: ImageView[];
  text: TextView;
  vendorColor?: VendorColor;
  /** task → label set by a merchandiser (these also appear as the `human` source). */
  corrections: Record<string, string>;
  modelVersions: Record<string, string>;
  updatedAt: string;
}

export interface Partition {
  product?: ProductItem;
  sources: SourceItem[];
}

export const splitPartition = (items: readonly PartitionItem[]): Partition & { attributeItems: PartitionItem[] } => {
  const out: Partition & { attributeItems: PartitionItem[] } = { sources: [], attributeItems: [] };
  for (const item of items) {
    if (item.sk === PRODUCT_SK) out.product = item as ProductItem;
    else if (item.sk.startsWith(SOURCE_SK_PREFIX)) out.sources.push(item as SourceItem);
    else if (item.sk.startsWith(ATTRIBUTE_SK_PREFIX)) out.attributeItems.push(item);
  }
  return out;
};

export const liveSources = (sources: readonly SourceItem[]): SourceItem[] => sources.filter((s) => s.status !== 'deleted');

/** Sources that take part in the ensemble: tagged model/rules sources and valid human corrections. */
export const ensembleSources = (sources: readonly SourceItem[], catalog: TaskCatalog): EnsembleSource[] =>
  sources.flatMap((source): EnsembleSource[] => {
    if (source.status !== 'tagged') return [];
    if (source.kind === 'human') {
      if (source.task === undefined || source.value === undefined) return [];
      if (!own(catalog, source.task)?.includes(source.value)) return [];
      return [{ id: source.sourceId, kind: 'human', predictions: { [source.task]: oneHot(source.value) } }];
    }
    if (!source.predictions) return [];
    return [{ id: source.sourceId, kind: source.kind, predictions: source.predictions, ...(source.weight !== undefined ? { weight: source.weight } : {}) }];
  });

const latest = (sources: readonly SourceItem[]): SourceItem | undefined =>
  sources.reduce<SourceItem | undefined>((best, s) => (best === undefined || s.updatedAt > best.updatedAt ? s : best), undefined);

/** Model versions behind the current predictions, e.g. `{image: 'weft-image@2026.11.28', text: ...}`. */
export const modelVersionsOf = (sources: readonly SourceItem[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const kind of ['image', 'text'] as const) {
    const newest = latest(sources.filter((s) => s.kind === kind && s.status === 'tagged' && s.modelVersion));
    if (newest?.modelVersion) out[kind] = newest.modelVersion;
  }
  return out;
};

export const vendorColorOf = (sources: readonly SourceItem[]): VendorColor | undefined =>
  sources.find((s) => s.kind === 'text' && s.status !== 'deleted')?.vendorColor;

const errorFields = (source: SourceItem): { error?: string; errorCode?: string } & PendingFailure => {
  if (source.status === 'error' && source.error) return { error: source.error.message, errorCode: source.error.code };
  const failure = source.status === 'pending' ? source.lastFailure : undefined;
  if (!failure) return {};
  return { lastError: failure.message, lastErrorCode: failure.code, ...(failure.attempt !== undefined ? { attempts: failure.attempt } : {}), lastAttemptAt: failure.at };
};

/** undefined when the product has no live source: never uploaded, or everything was deleted. */
export const buildProductView = (items: readonly PartitionItem[]): ProductView | undefined => {
  const { product, sources } = splitPartition(items);
  const live = liveSources(sources);
  if (live.length === 0) return undefined;
  const first = live[0]!;
  const images = live
    .filter((s) => s.kind === 'image')
    .map((s): ImageView => {
      const key = s.key ?? s.sourceId;
      return {
        key,
        status: s.status as ImageView['status'],
        ...errorFields(s),
        ...(s.status === 'tagged' ? { views: Object.fromEntries((s.views ?? LEGACY_VIEWS).map((view) => [view, derivedViewKey(key, view)])) } : {}),
        ...(s.box ? { box: s.box } : {}),
      };
    })
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const textSource = live.find((s) => s.kind === 'text');
  const text: TextView = textSource
    ? { status: textSource.status as TextView['status'], ...(textSource.key ? { key: textSource.key } : {}), ...errorFields(textSource) }
    : { status: 'missing' };
  const corrections = Object.fromEntries(live.flatMap((s) => (s.kind === 'human' && s.task && s.value ? [[s.task, s.value] as const] : [])));
  const vendorColor = vendorColorOf(live);
  const updatedAt = [product?.updatedAt, ...live.map((s) => s.updatedAt)].filter((t): t is string => !!t).sort().at(-1)!;
  return {
    vendor: first.vendor,
    productId: first.productId,
    attributes: product?.attributes ?? {},
    images,
    text,
    ...(vendorColor ? { vendorColor } : {}),
    corrections,
    modelVersions: product?.modelVersions ?? modelVersionsOf(live),
    updatedAt,
  };
};
