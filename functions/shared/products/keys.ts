/**
 * Key construction for every item in the table. `#` separates key parts: vendor and productId can
 * never contain it (layout ID_PATTERN) and task names cannot either (manifest schema), so every
 * key splits back unambiguously.
 */

export type SourceKind = 'image' | 'text' | 'rules' | 'human';

export const PRODUCT_SK = 'PRODUCT';
export const SOURCE_SK_PREFIX = 'SRC#';
export const ATTRIBUTE_SK_PREFIX = 'ATTR#';
export const REJECTION_SK = 'REJECTION';

/** GSI partitions that are not `{task}#{value}`; upper case, so no manifest task (lower case) collides. */
export const REJECTIONS_GSI_PK = 'REJECTION';
export const CORRECTIONS_GSI_PK = 'CORRECTION';

export const productPk = (vendor: string, productId: string): string => `P#${vendor}#${productId}`;

export const rejectionPk = (key: string): string => `R#${key}`;

export interface SourceRef {
  vendor: string;
  productId: string;
  kind: SourceKind;
  /** Image file name for `image`, task for `human`; absent for `text` and `rules`. */
  name?: string;
}

export const sourceSk = (ref: Pick<SourceRef, 'kind' | 'name'>): string =>
  ref.name === undefined ? `${SOURCE_SK_PREFIX}${ref.kind}` : `${SOURCE_SK_PREFIX}${ref.kind}#${ref.name}`;

/** The id a source has in the API's per-task breakdown: `image:front.jpg`, `text`, `rules`, `human`. */
export const sourceId = (ref: Pick<SourceRef, 'kind' | 'name'>): string =>
  ref.kind === 'image' && ref.name !== undefined ? `image:${ref.name}` : ref.kind;

export const attributeSk = (task: string): string => `${ATTRIBUTE_SK_PREFIX}${task}`;

export const attributeGsiPk = (task: string, value: string): string => `${task}#${value}`;

export const attributeGsiSk = (vendor: string, productId: string): string => `${vendor}#${productId}`;

/**
 * S3 sequencers are hex strings of varying length; AWS documents comparing them after right-padding
 * the shorter one with zeros. Stored padded to a fixed width and upper-cased, plain string
 * comparison (which DynamoDB condition expressions do) orders them.
 */
export const SEQUENCER_WIDTH = 40;

export const normalizeSequencer = (sequencer: string): string => {
  const hex = sequencer.trim().toUpperCase();
  if (!/^[0-9A-F]+$/.test(hex) || hex.length > SEQUENCER_WIDTH) throw new Error(`invalid S3 sequencer "${sequencer}"`);
  return hex.padEnd(SEQUENCER_WIDTH, '0');
};

/**
 * Events without a sequencer (S3 sends none for some event types) are ordered by event time,
 * encoded into the same fixed-width form so both kinds compare as strings.
 */
export const sequencerFromTime = (iso: string): string => {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`invalid event time "${iso}"`);
  return ms.toString(16).toUpperCase().padStart(12, '0').padEnd(SEQUENCER_WIDTH, '0');
};
