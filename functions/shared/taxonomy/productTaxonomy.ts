/**
 * The API's product view with the taxonomy added: each attribute whose value is mapped gets
 * `taxonomy: {shopify: {id, handle|fullName, name}, google?: {id, path}}`, the product gets its
 * colors for each audience and the release the ids belong to. Existing fields are left as they are.
 */
import type { TaskAttribute } from '../products/ensemble.js';
import type { ProductView } from '../products/productView.js';
import { colorAudiences, type ColorAudiences } from './colors.js';
import type { AttributeTaxonomy, TaxonomyIndex } from './taxonomyIndex.js';

export type TaxonomyAttribute = TaskAttribute & { taxonomy?: AttributeTaxonomy };

export type TaxonomyProductView = Omit<ProductView, 'attributes'> & {
  attributes: Record<string, TaxonomyAttribute>;
  colors?: ColorAudiences;
  taxonomy?: { shopify: string; google: string };
};

export const withTaxonomy = (view: ProductView, taxonomy: TaxonomyIndex | undefined): TaxonomyProductView => {
  if (!taxonomy) return view;
  const attributes = new Map<string, TaxonomyAttribute>();
  for (const [task, attribute] of Object.entries(view.attributes)) {
    const ids = taxonomy.attributeTaxonomy(task, attribute.value);
    attributes.set(task, ids ? { ...attribute, taxonomy: ids } : attribute);
  }
  const colors = colorAudiences(taxonomy, view.attributes, view.vendorColor);
  return {
    ...view,
    attributes: Object.fromEntries(attributes),
    ...(colors ? { colors } : {}),
    taxonomy: { shopify: taxonomy.release.version, google: taxonomy.release.google },
  };
};
