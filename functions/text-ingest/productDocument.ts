/**
 * product.json → what the pipeline uses: the validated document (unknown fields kept), the text
 * the text model sees, and the vendor's color as a rules source. Pure.
 */
import { PermanentError } from '../shared/errors.js';
import { own } from '../shared/ownKeys.js';
import { normalizeColor } from '../shared/color/normalizeColor.js';
import { cleanText, truncate } from '../shared/text/cleanText.js';
import { oneHot, type Distribution, type TaskCatalog } from '../shared/products/ensemble.js';
import type { VendorColor } from '../shared/products/items.js';

/** Cap on the text sent to (and stored for) the text model; the model itself sees ~128 tokens. */
export const MAX_MODEL_TEXT_CHARS = 4_000;
/** The stored copy of product.json stays well inside DynamoDB's 400 KB item limit. */
export const MAX_STORED_DOCUMENT_CHARS = 64_000;
/**
 * Deepest nesting of arrays and objects accepted. JSON.parse takes any depth, but re-serializing
 * (the stored copy) recurses and overflows the stack near ten thousand levels; vendor documents
 * nest a handful of levels (variants → sizes → stock).
 */
export const MAX_DOCUMENT_DEPTH = 64;
/** The rules source votes only for a task of this name, and only with one of its labels. */
export const COLOR_TASK = 'color';

export type ProductDocument = Record<string, unknown> & { title: string };

/** Walks parsed JSON without recursion (the depth is what is being checked). */
const exceedsDepth = (root: object, maxDepth: number): boolean => {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > maxDepth) return true;
    for (const child of Object.values(value)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
};

/** A field of the vendor's document, never one inherited from Object.prototype (`constructor`...). */
const ownField = (document: Record<string, unknown>, field: string): unknown => own(document, field);

// Invalid UTF-8 becomes U+FFFD rather than an error: the vendor's text is still mostly usable.
const decoder = new TextDecoder('utf-8', { fatal: false });

export const parseProductDocument = (bytes: Uint8Array): ProductDocument => {
  if (bytes.byteLength === 0) throw new PermanentError('empty_object', 'product.json is empty');
  const source = decoder.decode(bytes);
  let json: unknown;
  try {
    json = JSON.parse(source);
  } catch (error) {
    throw new PermanentError('invalid_json', `product.json is not valid JSON: ${(error as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new PermanentError('invalid_product', 'product.json must be a JSON object');
  }
  if (exceedsDepth(json, MAX_DOCUMENT_DEPTH)) {
    throw new PermanentError('document_too_deep', `product.json nests arrays or objects more than ${MAX_DOCUMENT_DEPTH} levels deep`);
  }
  const document = json as Record<string, unknown>;
  const title = ownField(document, 'title');
  if (typeof title !== 'string' || cleanText(title).length === 0) {
    throw new PermanentError('missing_title', 'product.json needs a non-empty string "title"');
  }
  return document as ProductDocument;
};

const fieldText = (value: unknown): string | undefined => {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
};

/**
 * The manifest's fields (title, description, brand by default), each cleaned, joined with "\n"
 * in manifest order, capped with the cleaner's truncation marker. Training must build its text
 * the same way.
 */
export const buildModelText = (document: Record<string, unknown>, fields: readonly string[], maxChars = MAX_MODEL_TEXT_CHARS): string => {
  const parts = fields
    .map((field) => fieldText(ownField(document, field)))
    .filter((value): value is string => value !== undefined)
    .map((value) => cleanText(value, { maxChars }))
    .filter((value) => value.length > 0);
  return truncate(parts.join('\n'), maxChars);
};

/** The document as stored for audit and retraining (JSON), or undefined when too big to keep. */
export const storableDocument = (document: Record<string, unknown>): string | undefined => {
  const json = JSON.stringify(document);
  return json.length <= MAX_STORED_DOCUMENT_CHARS ? json : undefined;
};

export interface VendorColorEvidence {
  vendorColor?: VendorColor;
  /** One-hot color prediction, present only when the normalized name is a label of the color task. */
  rules?: Record<string, Distribution>;
}

export const vendorColorEvidence = (document: Record<string, unknown>, catalog: TaskCatalog): VendorColorEvidence => {
  const raw = ownField(document, 'color');
  if (typeof raw !== 'string' || raw.trim() === '') return {};
  const { normalized } = normalizeColor(raw);
  const vendorColor = { raw, normalized };
  const labels = own(catalog, COLOR_TASK);
  if (!labels?.includes(normalized)) return { vendorColor };
  return { vendorColor, rules: { [COLOR_TASK]: oneHot(normalized) } };
};
