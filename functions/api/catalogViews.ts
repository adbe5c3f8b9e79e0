/**
 * What the console's routes answer, as the handler builds it: the store's listing and queue items
 * with browser addresses for their pictures, the tasks, a product's evidence and the calibration.
 * The OpenAPI schemas (openapi/catalogSchemas.ts) are held to these types.
 */
import type { TaskCalibration } from '../shared/products/calibration.js';
import type { Facets, ProductSummary, ReviewItem } from '../shared/products/catalogQueries.js';

export interface ListedProduct extends ProductSummary {
  /** Where a browser loads `thumbnail` from (presigned on AWS, short-lived). */
  thumbnailUrl?: string;
}

export interface ProductListingResponse {
  items: ListedProduct[];
  nextCursor?: string;
  facets: Facets;
}

export interface ReviewEntry extends ReviewItem {
  thumbnailUrl?: string;
}

export interface ReviewPage {
  items: ReviewEntry[];
  nextCursor?: string;
}

export interface TaskInfo {
  name: string;
  /** In manifest order. */
  labels: string[];
  /** Below this confidence the ensemble abstains. */
  threshold: number;
}

/** A model view of the images, as the image manifest declares it: what a page draws on the original. */
export interface ImageViewInfo {
  name: string;
  /** `whole`: the image letterboxed; `center`: its central `cropFraction` of each side; `garment`: the detector's box, padded by `padding` and squared. */
  kind: 'whole' | 'center' | 'garment';
  cropFraction?: number;
  padding?: number;
}

export interface TaskList {
  tasks: TaskInfo[];
  /** The image model's views, in its input order (none without an image model). */
  imageViews: ImageViewInfo[];
  modelVersions: Record<string, string>;
}

export interface ObjectLink {
  key: string;
  url: string;
}

export interface ImageEvidence extends ObjectLink {
  /** The model views under derived/, by view name (tagged images). */
  views: Record<string, ObjectLink>;
}

export interface ProductEvidence {
  vendor: string;
  productId: string;
  title?: string;
  /** product.json as the vendor uploaded it (parsed and re-serialized; unknown fields kept). */
  document?: string;
  /** The cleaned text the text model saw. */
  text?: string;
  images: ImageEvidence[];
}

export interface CalibrationReport {
  tasks: Record<string, TaskCalibration>;
}
