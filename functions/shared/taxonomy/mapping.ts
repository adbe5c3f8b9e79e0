/**
 * The taxonomy mapping (`models/artifacts/taxonomy.json`): for every (task, label) of the model
 * manifests, the Shopify Standard Product Taxonomy category or attribute value it stands for and,
 * for categories, the Google product category Shopify's own published mapping gives it. Validated
 * here (zod) and by `weft_models.taxonomy` (pydantic) with the same rules. Task names and labels
 * come only from this file and the manifests; no code lists them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';

export const TAXONOMY_FILE_NAME = 'taxonomy.json';

const TaskName = z.string().regex(/^[a-z][a-z0-9_]*$/);
const Label = z.string().min(1);

export const SHOPIFY_CATEGORY_ID = /^gid:\/\/shopify\/TaxonomyCategory\/[a-z]{2}(-\d+)*$/;
export const SHOPIFY_VALUE_ID = /^gid:\/\/shopify\/TaxonomyValue\/\d+$/;
export const SHOPIFY_ATTRIBUTE_ID = /^gid:\/\/shopify\/TaxonomyAttribute\/\d+$/;

const ShopifyCategory = z.strictObject({
  id: z.string().regex(SHOPIFY_CATEGORY_ID),
  /** Last segment of `fullName`. */
  name: z.string().min(1),
  fullName: z.string().min(1),
});

const ShopifyValue = z.strictObject({
  id: z.string().regex(SHOPIFY_VALUE_ID),
  /** `{attribute handle}__{value}`, e.g. `color__red`. */
  handle: z.string().regex(/^[a-z0-9-]+__[a-z0-9-]+$/),
  name: z.string().min(1),
});

const GoogleCategory = z.strictObject({
  /** Google product category id, as Shopify's mapping file writes it (digits). */
  id: z.string().regex(/^\d+$/),
  path: z.string().min(1),
});

const CategoryTask = z.strictObject({
  name: TaskName,
  /** The task's labels are product categories. */
  target: z.literal('category'),
  /** schema.org Product property that carries it (JSON-LD); absent: an additionalProperty. */
  schemaOrg: z.string().regex(/^[a-zA-Z]+$/).optional(),
});

const AttributeTask = z.strictObject({
  name: TaskName,
  /** The task's labels are values of one Shopify taxonomy attribute. */
  target: z.literal('attribute'),
  attribute: z.strictObject({ id: z.string().regex(SHOPIFY_ATTRIBUTE_ID), handle: z.string().regex(/^[a-z0-9-]+$/), name: z.string().min(1) }),
  /** Shopify category metafield (`namespace.key`) that holds the values on a product. */
  metafield: z.string().regex(/^[a-z0-9_-]+\.[a-z0-9_-]+$/),
  /** Google Merchant Center attribute (supplemental feed column), if Google has one. */
  googleField: z.string().regex(/^[a-z_]+$/).optional(),
  schemaOrg: z.string().regex(/^[a-zA-Z]+$/).optional(),
  /**
   * The vendor's color name (product.json `color`) names this task's value: exports pair the
   * normalized family with the vendor's display name.
   */
  vendorColor: z.boolean().optional(),
  /**
   * Every value id the attribute had in the pinned release, so a refresh can tell which values a
   * newer release added.
   */
  releaseValues: z.array(z.string().regex(SHOPIFY_VALUE_ID)).optional(),
});

const TaskSpec = z.discriminatedUnion('target', [CategoryTask, AttributeTask]);

const MappedEntry = z.strictObject({
  task: TaskName,
  label: Label,
  shopify: z.union([ShopifyCategory, ShopifyValue]),
  /** Categories only; from Shopify's published Google mapping for the pinned release. */
  google: GoogleCategory.optional(),
  /** The label names several colors, not one: no single color is ever derived from it. */
  multicolor: z.boolean().optional(),
  /** Why this target was chosen, when it is not the obvious one. */
  note: z.string().min(1).optional(),
});

const UnmappedEntry = z.strictObject({
  task: TaskName,
  label: Label,
  /** Why the label has no taxonomy counterpart; reported by the validator. */
  unmapped: z.string().min(8),
});

const Entry = z.union([MappedEntry, UnmappedEntry]);

export const TaxonomyMappingSchema = z
  .strictObject({
    schemaVersion: z.literal(1),
    release: z.strictObject({
      taxonomy: z.literal('shopify'),
      /** Shopify Standard Product Taxonomy release, e.g. `2026-08`. */
      version: z.string().regex(/^\d{4}-\d{2}$/),
      /** Google product taxonomy version of Shopify's mapping file, e.g. `2021-09-21`. */
      google: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
      /** Published files of the release this mapping was generated from (paths under dist/en). */
      sources: z.array(z.string().min(1)).min(1),
      license: z.string().min(1),
    }),
    tasks: z.array(TaskSpec).min(1),
    entries: z.array(Entry),
  })
  .superRefine((m, ctx) => {
    const tasks = new Map(m.tasks.map((t) => [t.name, t]));
    if (tasks.size !== m.tasks.length) ctx.addIssue({ code: 'custom', path: ['tasks'], message: 'task names must be unique' });
    const seen = new Set<string>();
    m.entries.forEach((entry, i) => {
      const key = `${entry.task}\u0000${entry.label}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['entries', i], message: `duplicate entry for ${entry.task}/${entry.label}` });
      seen.add(key);
      const task = tasks.get(entry.task);
      if (!task) {
        ctx.addIssue({ code: 'custom', path: ['entries', i, 'task'], message: `entry names task "${entry.task}" that "tasks" does not declare` });
        return;
      }
      if (!('shopify' in entry)) return;
      if (task.target === 'category') {
        if (!SHOPIFY_CATEGORY_ID.test(entry.shopify.id)) ctx.addIssue({ code: 'custom', path: ['entries', i, 'shopify', 'id'], message: `${entry.task}/${entry.label}: a category task maps to a TaxonomyCategory` });
      } else {
        if (!('handle' in entry.shopify) || !SHOPIFY_VALUE_ID.test(entry.shopify.id)) {
          ctx.addIssue({ code: 'custom', path: ['entries', i, 'shopify'], message: `${entry.task}/${entry.label}: an attribute task maps to a TaxonomyValue with a handle` });
        } else if (!entry.shopify.handle.startsWith(`${task.attribute.handle}__`)) {
          ctx.addIssue({ code: 'custom', path: ['entries', i, 'shopify', 'handle'], message: `${entry.task}/${entry.label}: value ${entry.shopify.handle} is not a value of attribute ${task.attribute.handle}` });
        }
        if (entry.google) ctx.addIssue({ code: 'custom', path: ['entries', i, 'google'], message: `${entry.task}/${entry.label}: only categories carry a Google product category` });
      }
    });
  });

export type TaxonomyMapping = z.infer<typeof TaxonomyMappingSchema>;
export type TaxonomyTask = TaxonomyMapping['tasks'][number];
export type AttributeTaxonomyTask = Extract<TaxonomyTask, { target: 'attribute' }>;
export type TaxonomyEntry = TaxonomyMapping['entries'][number];
export type MappedTaxonomyEntry = Extract<TaxonomyEntry, { shopify: unknown }>;
export type UnmappedTaxonomyEntry = Extract<TaxonomyEntry, { unmapped: string }>;
export type ShopifyRef = MappedTaxonomyEntry['shopify'];
export type GoogleRef = NonNullable<MappedTaxonomyEntry['google']>;

export const isMapped = (entry: TaxonomyEntry): entry is MappedTaxonomyEntry => 'shopify' in entry;

export class TaxonomyError extends Error {
  override readonly name = 'TaxonomyError';
}

export const parseTaxonomyMapping = (json: unknown, source: string): TaxonomyMapping => {
  const result = TaxonomyMappingSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new TaxonomyError(`invalid taxonomy mapping ${source}: ${problems}`);
  }
  return result.data;
};

export const loadTaxonomyMapping = (file: string): TaxonomyMapping => {
  const path = resolve(file);
  if (!existsSync(path)) throw new TaxonomyError(`taxonomy mapping not found: ${path}`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new TaxonomyError(`taxonomy mapping ${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parseTaxonomyMapping(json, path);
};

/**
 * Where the mapping of a models folder lives: `WEFT_TAXONOMY_FILE`, else `taxonomy.json` in the
 * folder, else in its parent — the fixture models (`models/artifacts/fixtures`) share the label
 * set of the trained ones and so their mapping. undefined when there is none.
 */
export const resolveTaxonomyFile = (modelsDir: string, env: NodeJS.ProcessEnv = process.env): string | undefined => {
  if (env.WEFT_TAXONOMY_FILE) return resolve(env.WEFT_TAXONOMY_FILE);
  for (const candidate of [join(modelsDir, TAXONOMY_FILE_NAME), join(dirname(resolve(modelsDir)), TAXONOMY_FILE_NAME)]) {
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
};

export const TAXONOMY_SCHEMA_FILE_NAME = 'taxonomy.schema.json';

/**
 * The JSON Schema of the mapping, generated from the zod schema so the two cannot drift; committed
 * beside the mapping for editors and other readers. The cross-field rules (a value belongs to its
 * task's attribute, one entry per label) are only in the validators.
 */
export const taxonomyMappingJsonSchema = (): Record<string, unknown> => ({
  ...z.toJSONSchema(TaxonomyMappingSchema, { io: 'input', unrepresentable: 'any' }),
  title: 'Weft taxonomy mapping',
  description: 'Every (task, label) of the model manifests mapped to the Shopify Standard Product Taxonomy, or explicitly unmapped with a reason.',
});
