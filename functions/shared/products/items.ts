/**
 * Shapes of the items in the table, as the store reads and writes them. See README.md.
 */
import type { Attributes, Distribution } from './ensemble.js';
import type { SourceKind } from './keys.js';

export type SourceStatus = 'pending' | 'tagged' | 'error' | 'deleted';

/** A detected garment: `[x, y, w, h]` normalized to the oriented image, top-left origin; score 0..1. */
export interface GarmentBox {
  x: number;
  y: number;
  w: number;
  h: number;
  score: number;
}

export interface RecordedError {
  code: string;
  message: string;
}

/**
 * Why a pending source is still waiting: the last transient failure of its message, with the
 * delivery attempt it happened on (SQS ApproximateReceiveCount).
 */
export interface SourceFailure {
  code: string;
  message: string;
  attempt?: number;
  /** When the failure was recorded. */
  at: string;
}

export interface VendorColor {
  raw: string;
  normalized: string;
}

export interface SourceItem {
  pk: string;
  sk: string;
  type: 'source';
  vendor: string;
  productId: string;
  kind: SourceKind;
  /** `image:{name}`, `text`, `rules`, `human:{task}` */
  sourceId: string;
  /** Upload the source came from (image and text; rules carry their product.json key). */
  key?: string;
  /** Normalized S3 sequencer of the event that last wrote this source (not on human items). */
  seq?: string;
  status: SourceStatus;
  error?: RecordedError;
  /** Pending sources only: the last transient failure; removed by any later write of the source. */
  lastFailure?: SourceFailure;
  /** task → label → probability (tagged sources only). */
  predictions?: Record<string, Distribution>;
  /** `{model name}@{version}` of the model that produced the predictions. */
  modelVersion?: string;
  /** Relative weight among the product's images. */
  weight?: number;
  // image source only
  /** The garment detector's box in image coordinates (0..1 of the oriented image) and its score. */
  box?: GarmentBox;
  /** Names of the model views written under derived/ (absent on images tagged before views were declared: downsampled, center). */
  views?: string[];
  updatedAt: string;
  // text source only
  /** The cleaned text the text model saw. */
  text?: string;
  vendorColor?: VendorColor;
  /**
   * product.json as parsed (unknown fields kept), re-serialized as a JSON string when small enough:
   * a string stores any vendor JSON (empty keys, huge numbers) that a DynamoDB map would refuse.
   */
  document?: string;
  // human source only
  task?: string;
  value?: string;
  gsi1pk?: string;
  gsi1sk?: string;
}

export interface ProductItem {
  pk: string;
  sk: 'PRODUCT';
  type: 'product';
  vendor: string;
  productId: string;
  attributes: Attributes;
  version: number;
  /**
   * task → the product version at which the task's index entry (value, confidence) last changed;
   * the `ATTR#{task}` item is current when its `version` is at least this. Absent on items written
   * before it existed (then every entry is expected at `version`).
   */
  indexVersions?: Record<string, number>;
  modelVersions: Record<string, string>;
  vendorColor?: VendorColor;
  updatedAt: string;
}

export interface AttributeIndexItem {
  pk: string;
  sk: string;
  type: 'attribute';
  vendor: string;
  productId: string;
  task: string;
  value: string | null;
  confidence: number;
  /** Product version this entry reflects; older merges never overwrite newer entries. */
  version: number;
  /** Present only while value is not null (sparse index). */
  gsi1pk?: string;
  gsi1sk?: string;
}

export interface RejectionItem {
  pk: string;
  sk: 'REJECTION';
  type: 'rejection';
  key: string;
  bucket?: string;
  code: string;
  reason: string;
  eventTime: string;
  recordedAt: string;
  gsi1pk: string;
  gsi1sk: string;
}

export type PartitionItem = SourceItem | ProductItem | AttributeIndexItem;
