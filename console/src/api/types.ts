/**
 * The parts of the API's answers the console reads, generic over tasks (string keys): the
 * deployment's manifests decide which tasks and labels there are, never this code.
 * test/unit/console-types.test.ts holds the server's response types assignable to these, so a
 * change of the API that the console would misread fails the typecheck.
 */

export type ProductStatus = 'pending' | 'tagged' | 'error';

export interface SummaryAttribute {
  value: string | null;
  confidence: number;
  corrected: boolean;
}

export interface ListedProduct {
  vendor: string;
  productId: string;
  title?: string;
  status: ProductStatus;
  thumbnailUrl?: string;
  attributes: Record<string, SummaryAttribute>;
  updatedAt: string;
}

export interface Facets {
  products: number;
  vendors: Record<string, number>;
  status: Partial<Record<ProductStatus, number>>;
  values: Record<string, Record<string, number>>;
  abstained: Record<string, number>;
  confidence: Record<string, number[]>;
}

export interface ProductListing {
  items: ListedProduct[];
  nextCursor?: string;
  facets: Facets;
}

export interface SourceVote {
  value: string;
  confidence: number;
  weight: number;
}

export interface ProductAttribute {
  value: string | null;
  confidence: number;
  sources: Record<string, SourceVote>;
}

export interface GarmentBox {
  x: number;
  y: number;
  w: number;
  h: number;
  score: number;
}

export interface ImageStatus {
  key: string;
  status: 'pending' | 'tagged' | 'error';
  error?: string;
  errorCode?: string;
  lastError?: string;
  lastErrorCode?: string;
  attempts?: number;
  views?: Record<string, string>;
  box?: GarmentBox;
}

export interface TextStatus {
  status: 'pending' | 'tagged' | 'error' | 'missing';
  key?: string;
  error?: string;
  errorCode?: string;
  lastError?: string;
  lastErrorCode?: string;
}

export interface Product {
  vendor: string;
  productId: string;
  attributes: Record<string, ProductAttribute>;
  images: ImageStatus[];
  text: TextStatus;
  vendorColor?: { raw: string; normalized: string };
  corrections: Record<string, string>;
  modelVersions: Record<string, string>;
  updatedAt: string;
}

export interface ObjectLink {
  key: string;
  url: string;
}

export interface ProductEvidence {
  vendor: string;
  productId: string;
  title?: string;
  document?: string;
  text?: string;
  images: (ObjectLink & { views: Record<string, ObjectLink> })[];
}

export interface TaskInfo {
  name: string;
  labels: string[];
  threshold: number;
}

export interface ImageViewInfo {
  name: string;
  kind: 'whole' | 'center' | 'garment';
  cropFraction?: number;
  padding?: number;
}

export interface TaskList {
  tasks: TaskInfo[];
  imageViews: ImageViewInfo[];
  modelVersions: Record<string, string>;
}

export interface ReviewEntry {
  vendor: string;
  productId: string;
  title?: string;
  thumbnailUrl?: string;
  task: string;
  value: string | null;
  confidence: number;
  margin: number;
  candidates: { value: string; p: number }[];
}

export interface ReviewPage {
  items: ReviewEntry[];
  nextCursor?: string;
}

export interface Rejection {
  key: string;
  bucket?: string;
  code: string;
  reason: string;
  eventTime: string;
  recordedAt: string;
}

export interface RejectionPage {
  items: Rejection[];
  nextCursor?: string;
}

export interface CalibrationPoint {
  threshold: number;
  coverage: number;
  accuracy: number;
}

export interface TaskCalibration {
  corrected: number;
  threshold: number;
  atThreshold?: { coverage: number; accuracy: number };
  curve: CalibrationPoint[];
}

export interface Calibration {
  tasks: Record<string, TaskCalibration>;
}

/** The local stack's dead letters (GET /local/dead-letters); AWS keeps them in SQS. */
export interface DeadLetter {
  messageId: string;
  queue: string;
  keys: string[];
  receiveCount: number;
  deadLetteredAt: string;
  error: string;
}

export interface DeadLetterList {
  items: DeadLetter[];
  total: number;
}
