/**
 * Reads the published files of a Shopify Standard Product Taxonomy release (its `dist/en` folder)
 * that the mapping is derived from: `attributes.json` (attributes with their values) and
 * `integrations/google/shopify_<release>_to_google_<version>.json` (every Shopify category with
 * the Google product category Shopify maps it to). Optionally
 * `integrations/shopify/shopify_<from>_to_shopify_<release>.json` says where categories of an
 * older release went. Unknown fields are ignored; missing ones are a named error.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { TaxonomyError } from './mapping.js';

const Value = z.object({ id: z.string(), name: z.string(), handle: z.string() });
const AttributesFile = z.object({
  version: z.string(),
  attributes: z.array(z.object({ id: z.string(), name: z.string(), handle: z.string(), values: z.array(Value) })),
});

const CategoryRef = z.object({ id: z.string(), full_name: z.string() });
const MappingFile = z.object({
  version: z.string(),
  mappings: z.array(
    z.object({
      input_taxonomy: z.string(),
      output_taxonomy: z.string(),
      rules: z.array(z.object({ input: z.object({ category: CategoryRef }), output: z.object({ category: z.array(CategoryRef) }) })),
    }),
  ),
});

export interface ReleaseValue {
  id: string;
  name: string;
  handle: string;
}

export interface ReleaseAttribute extends ReleaseValue {
  values: ReleaseValue[];
}

export interface TaxonomyRelease {
  /** Shopify release, from the Google mapping file (`2026-08`). */
  version: string;
  /** Google taxonomy version that file maps to (`2021-09-21`). */
  googleVersion: string;
  /** Release the attributes file says it belongs to. */
  attributesVersion: string;
  /** Every category of the release: id → full name. */
  categories: Map<string, string>;
  /** Category id → the Google category Shopify maps it to. */
  google: Map<string, { id: string; path: string }>;
  /** Attribute handle → attribute with its values. */
  attributes: Map<string, ReleaseAttribute>;
  /** Files read, relative to the release folder. */
  sources: string[];
}

const readJson = <T>(file: string, schema: z.ZodType<T>, what: string): T => {
  if (!existsSync(file)) throw new TaxonomyError(`${what} not found: ${file}`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new TaxonomyError(`${what} ${file} is not valid JSON: ${(error as Error).message}`);
  }
  const result = schema.safeParse(json);
  if (!result.success) throw new TaxonomyError(`${what} ${file} is not in the published format: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return result.data;
};

const GOOGLE_FILE = /^shopify_(.+)_to_google_(\d{4}-\d{2}-\d{2})\.json$/;

/** The Google mapping file of `release`, or the only one in the folder when no release is named. */
const googleMappingFile = (dir: string, release?: string): { file: string; googleVersion: string } => {
  const folder = join(dir, 'integrations', 'google');
  const files = existsSync(folder) ? readdirSync(folder).filter((f) => GOOGLE_FILE.test(f)) : [];
  const matching = release ? files.filter((f) => f.startsWith(`shopify_${release}_to_google_`)) : files;
  if (matching.length !== 1) {
    const found = files.length > 0 ? files.join(', ') : 'none';
    throw new TaxonomyError(
      release
        ? `expected one integrations/google/shopify_${release}_to_google_<version>.json in ${dir}; found: ${found}`
        : `expected exactly one integrations/google/shopify_<release>_to_google_<version>.json in ${dir} (name one with --release); found: ${found}`,
    );
  }
  return { file: join('integrations', 'google', matching[0]!), googleVersion: GOOGLE_FILE.exec(matching[0]!)![2]! };
};

export const readTaxonomyRelease = (dir: string, release?: string): TaxonomyRelease => {
  const { file: googleFile, googleVersion } = googleMappingFile(dir, release);
  const mapping = readJson(join(dir, googleFile), MappingFile, 'Google category mapping');
  const rules = mapping.mappings.find((m) => m.output_taxonomy.startsWith('google/'));
  if (!rules) throw new TaxonomyError(`${join(dir, googleFile)} has no mapping to a google/ taxonomy`);
  const categories = new Map<string, string>();
  const google = new Map<string, { id: string; path: string }>();
  for (const rule of rules.rules) {
    categories.set(rule.input.category.id, rule.input.category.full_name);
    const target = rule.output.category[0];
    if (target) google.set(rule.input.category.id, { id: target.id, path: target.full_name });
  }
  const attributesFile = 'attributes.json';
  const attributes = readJson(join(dir, attributesFile), AttributesFile, 'attributes file');
  return {
    version: mapping.version,
    googleVersion,
    attributesVersion: attributes.version,
    categories,
    google,
    attributes: new Map(attributes.attributes.map((a) => [a.handle, { id: a.id, name: a.name, handle: a.handle, values: a.values }])),
    sources: [attributesFile, googleFile],
  };
};

/** Where categories of `from` went in `release`, from Shopify's shopify-to-shopify mapping, if the folder has it. */
export const readCategorySuccessors = (dir: string, from: string, release: string): Map<string, string[]> | undefined => {
  const file = join(dir, 'integrations', 'shopify', `shopify_${from}_to_shopify_${release}.json`);
  if (!existsSync(file)) return undefined;
  const mapping = readJson(file, MappingFile, 'Shopify category mapping');
  const successors = new Map<string, string[]>();
  for (const m of mapping.mappings) {
    if (!m.output_taxonomy.startsWith('shopify/')) continue;
    for (const rule of m.rules) successors.set(rule.input.category.id, rule.output.category.map((c) => c.id));
  }
  return successors;
};
