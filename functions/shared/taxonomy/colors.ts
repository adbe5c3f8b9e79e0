/**
 * A product's color for each audience. Facets want the normalized family (the merged value of the
 * task the mapping marks `vendorColor`); Google wants the color name the landing page shows — the
 * vendor's own, e.g. "Toasted Walnut" — at most 40 characters per color and up to 3 colors joined
 * by "/". Both are kept with where they came from. Nothing is invented: an abstained or
 * low-confidence family, a multicolor one, or a vendor name that is no color name yields no value.
 */
import { MULTICOLOR, UNKNOWN, normalizeColor } from '../color/normalizeColor.js';
import type { TaskAttribute } from '../products/ensemble.js';
import type { VendorColor } from '../products/items.js';
import { own } from '../ownKeys.js';
import type { TaxonomyIndex } from './taxonomyIndex.js';

/** Google Merchant Center `color`: per color, colors per product, whole value. */
export const GOOGLE_COLOR_LIMITS = { perColor: 40, colors: 3, total: 100 } as const;

export interface ColorAudiences {
  /** The normalized family, for facets. Absent when the models abstain or fall below the threshold. */
  family?: { value: string; name?: string; confidence: number; source: 'human' | 'models' };
  /** The vendor's color name from product.json and the family it normalizes to. */
  vendor?: { name: string; family: string };
  /** Google's `color`: the vendor's name when it is one, else the family's taxonomy name. */
  google?: { value: string; from: 'vendor' | 'family' };
}

const collapse = (s: string): string => s.replace(/[\p{Cc}\p{Cf}]+/gu, ' ').replace(/\s+/g, ' ').trim();

/**
 * The vendor's name as Google color parts, or undefined when it is not a color name (normalizes
 * to nothing) or breaks Google's limits. A multicolor name is accepted only when it lists its
 * colors ("Black/White"); "Multi" or "Assorted" say nothing Google can use.
 */
const vendorGoogleColor = (name: string, normalized: string): string | undefined => {
  const parts = normalized === MULTICOLOR ? name.split('/').map(collapse) : [name];
  if (parts.length > GOOGLE_COLOR_LIMITS.colors || parts.some((p) => p.length === 0 || p.length > GOOGLE_COLOR_LIMITS.perColor)) return undefined;
  const families = normalized === MULTICOLOR ? parts.map((p) => normalizeColor(p).normalized) : [normalized];
  if (families.some((f) => f === MULTICOLOR || f === UNKNOWN)) return undefined;
  const value = parts.join('/');
  return value.length <= GOOGLE_COLOR_LIMITS.total ? value : undefined;
};

export const colorAudiences = (
  taxonomy: TaxonomyIndex,
  attributes: Record<string, TaskAttribute>,
  vendorColor: VendorColor | undefined,
  minConfidence = 0,
): ColorAudiences | undefined => {
  const task = taxonomy.vendorColorTask();
  if (task === undefined) return undefined;
  const out: ColorAudiences = {};
  const attribute = own(attributes, task);
  if (attribute && attribute.value !== null && attribute.confidence >= minConfidence) {
    const entry = taxonomy.entry(task, attribute.value);
    out.family = {
      value: attribute.value,
      ...(entry ? { name: entry.shopify.name } : {}),
      confidence: attribute.confidence,
      source: own(attribute.sources, 'human') !== undefined ? 'human' : 'models',
    };
  }
  const vendorName = vendorColor ? collapse(vendorColor.raw) : '';
  if (vendorColor && vendorName) out.vendor = { name: vendorName, family: vendorColor.normalized };

  const familyEntry = out.family ? taxonomy.entry(task, out.family.value) : undefined;
  const humanDisagrees = out.family?.source === 'human' && out.vendor !== undefined && out.vendor.family !== MULTICOLOR && out.vendor.family !== out.family.value;
  const fromVendor = out.vendor && !humanDisagrees ? vendorGoogleColor(out.vendor.name, out.vendor.family) : undefined;
  if (fromVendor !== undefined) out.google = { value: fromVendor, from: 'vendor' };
  else if (familyEntry && !familyEntry.multicolor && familyEntry.shopify.name.length <= GOOGLE_COLOR_LIMITS.perColor) out.google = { value: familyEntry.shopify.name, from: 'family' };
  return out;
};
