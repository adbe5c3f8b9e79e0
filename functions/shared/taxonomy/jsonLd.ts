/**
 * A product as schema.org `Product` JSON-LD. Which property a task fills is data (the mapping's
 * `schemaOrg`): the category task's Google category path goes to `category`, the vendor-color
 * task's color name to `color`, any other mapped value as a `DefinedTerm` whose `@id` is the
 * Shopify taxonomy value (e.g. `pattern`); a task without a property becomes an
 * `additionalProperty`. Abstained attributes are left out.
 */
import type { ProductView } from '../products/productView.js';
import { colorAudiences } from './colors.js';
import type { TaxonomyIndex } from './taxonomyIndex.js';

export const JSON_LD_CONTENT_TYPE = 'application/ld+json';
export const SCHEMA_ORG_CONTEXT = 'https://schema.org';

type Node = Record<string, unknown>;

const definedTerm = (taxonomy: TaxonomyIndex, id: string, name: string, handle?: string): Node => ({
  '@type': 'DefinedTerm',
  '@id': id,
  name,
  ...(handle ? { termCode: handle } : {}),
  inDefinedTermSet: { '@type': 'DefinedTermSet', name: `Shopify Standard Product Taxonomy ${taxonomy.release.version}` },
});

export const productJsonLd = (view: ProductView, taxonomy: TaxonomyIndex | undefined, minConfidence = 0): Node => {
  const doc: Node = { '@context': SCHEMA_ORG_CONTEXT, '@type': 'Product', productID: `${view.vendor}/${view.productId}` };
  const additional: Node[] = [];
  const colors = taxonomy ? colorAudiences(taxonomy, view.attributes, view.vendorColor, minConfidence) : undefined;
  for (const [task, attribute] of Object.entries(view.attributes)) {
    if (attribute.value === null || attribute.confidence < minConfidence) continue;
    const spec = taxonomy?.task(task);
    const entry = taxonomy?.entry(task, attribute.value);
    const property = spec?.schemaOrg;
    if (taxonomy && spec && entry && property) {
      if (spec.target === 'category') {
        doc[property] = entry.google?.path ?? ('fullName' in entry.shopify ? entry.shopify.fullName : entry.shopify.name);
        continue;
      }
      if (spec.vendorColor) {
        if (colors?.google) doc[property] = colors.google.value;
        continue;
      }
      doc[property] = definedTerm(taxonomy, entry.shopify.id, entry.shopify.name, 'handle' in entry.shopify ? entry.shopify.handle : undefined);
      continue;
    }
    additional.push({
      '@type': 'PropertyValue',
      propertyID: task,
      value: entry?.shopify.name ?? attribute.value,
      ...(taxonomy && entry ? { valueReference: definedTerm(taxonomy, entry.shopify.id, entry.shopify.name, 'handle' in entry.shopify ? entry.shopify.handle : undefined) } : {}),
    });
  }
  if (additional.length > 0) doc.additionalProperty = additional;
  return doc;
};

/**
 * Whether a request asks for JSON-LD: `?format=jsonld`, or an Accept header that ranks
 * application/ld+json above application/json (q-values honoured; ties go to plain JSON).
 */
export const wantsJsonLd = (accept: string | undefined, format: string | undefined): boolean | 'bad-format' => {
  // A `format` that is given must be one of the two (an empty one too), as the OpenAPI document says.
  if (format !== undefined) {
    if (format === 'jsonld') return true;
    if (format === 'json') return false;
    return 'bad-format';
  }
  if (!accept) return false;
  let ld = -1;
  let json = -1;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (!Number.isFinite(weight)) continue;
    if (type === JSON_LD_CONTENT_TYPE) ld = Math.max(ld, weight);
    else if (type === 'application/json' || type === 'application/*' || type === '*/*') json = Math.max(json, weight);
  }
  return ld > 0 && ld > json;
};
