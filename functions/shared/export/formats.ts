/**
 * The export formats, one row per product, columns derived from the task catalog and the taxonomy
 * mapping (no task is named here):
 *
 *   jsonl    the API's product view (with taxonomy ids), one JSON object per line
 *   csv      for spreadsheets: per task value, confidence, source, Shopify id and name (Google id
 *            and path for the category task), then the vendor's color name and Google's color
 *   google   Google Merchant Center supplemental feed (TSV): id, google_product_category and each
 *            attribute the mapping gives a Google field, within Google's field limits
 *   shopify  CSV for bulk updating the product category and the category metafields, by taxonomy id
 *
 * An attribute that abstained or whose confidence is below the export's minimum is left empty; a
 * human correction (confidence 1) always passes. A row that breaks a limit is skipped with a named
 * reason, never truncated.
 */
import type { Attributes, TaskAttribute, TaskCatalog } from '../products/ensemble.js';
import type { VendorColor } from '../products/items.js';
import type { ProductView } from '../products/productView.js';
import { own } from '../ownKeys.js';
import { colorAudiences } from '../taxonomy/colors.js';
import { withTaxonomy } from '../taxonomy/productTaxonomy.js';
import type { TaxonomyIndex } from '../taxonomy/taxonomyIndex.js';

export const EXPORT_FORMATS = ['jsonl', 'csv', 'google', 'shopify'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Google Merchant Center product data limits for the columns a supplemental feed carries. */
export const GOOGLE_LIMITS = { id: 50, google_product_category: 750, default: 100 } as const;

/** What every format reads about a product: the merged product item, or the whole view for jsonl. */
export interface ExportProduct {
  vendor: string;
  productId: string;
  attributes: Attributes;
  vendorColor?: VendorColor;
  /** The API view (jsonl only). */
  view?: ProductView;
}

export type RowResult = { line: string } | { skip: string };

export interface ExportContext {
  catalog: TaskCatalog;
  taxonomy: TaxonomyIndex | undefined;
  minConfidence: number;
  /** Google `id` of a product; `{vendor}` and `{productId}` are replaced. */
  googleId: string;
}

export interface Formatter {
  /** File extension a person would expect. */
  extension: string;
  /** Whether rows need the full product view (one Query per product) rather than the product item. */
  needsView: boolean;
  header(): string | undefined;
  row(product: ExportProduct): RowResult;
}

const confident = (attribute: TaskAttribute | undefined, min: number): TaskAttribute | undefined =>
  attribute && attribute.value !== null && attribute.confidence >= min ? attribute : undefined;

/** Attributes with those below the minimum confidence set to abstain, as the API would show them. */
const thresholded = (attributes: Attributes, min: number): Attributes =>
  Object.fromEntries(Object.entries(attributes).map(([task, a]) => [task, a.value !== null && a.confidence < min ? { ...a, value: null } : a]));

const provenance = (attribute: TaskAttribute): 'human' | 'models' => (own(attribute.sources, 'human') !== undefined ? 'human' : 'models');

/** Catalog tasks in the mapping's order first (category, then attributes), then any others. */
const orderedTasks = (context: ExportContext): string[] => {
  const tasks = Object.keys(context.catalog);
  const mapped = context.taxonomy?.tasks().map((t) => t.name).filter((t) => tasks.includes(t)) ?? [];
  return [...mapped, ...tasks.filter((t) => !mapped.includes(t))];
};

// --- CSV (RFC 4180) -----------------------------------------------------------------------------

/** Spreadsheets run a cell that starts like a formula; vendor text must never do that. */
const FORMULA_START = /^[=+\-@\t\r]/;

export const csvCell = (value: string | number | undefined): string => {
  if (value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

const csvLine = (cells: (string | number | undefined)[]): string => cells.map(csvCell).join(',');

const jsonl = (context: ExportContext): Formatter => ({
  extension: 'jsonl',
  needsView: true,
  header: () => undefined,
  row: (product) => {
    const view = product.view!;
    return { line: JSON.stringify(withTaxonomy({ ...view, attributes: thresholded(view.attributes, context.minConfidence) }, context.taxonomy)) };
  },
});

const csv = (context: ExportContext): Formatter => {
  const tasks = orderedTasks(context);
  const categoryTask = context.taxonomy?.categoryTask();
  const columns = tasks.flatMap((task) => [
    task,
    `${task}_confidence`,
    `${task}_source`,
    `${task}_shopify_id`,
    `${task}_shopify_name`,
    ...(task === categoryTask ? [`${task}_google_id`, `${task}_google_path`] : []),
  ]);
  const colorColumns = context.taxonomy?.vendorColorTask() !== undefined;
  return {
    extension: 'csv',
    needsView: false,
    header: () => csvLine(['vendor', 'product_id', ...columns, 'vendor_color', ...(colorColumns ? ['google_color', 'google_color_from'] : [])]),
    row: (product) => {
      const cells: (string | number | undefined)[] = [product.vendor, product.productId];
      for (const task of tasks) {
        const attribute = confident(own(product.attributes, task), context.minConfidence);
        const entry = attribute ? context.taxonomy?.entry(task, attribute.value!) : undefined;
        cells.push(attribute?.value ?? undefined, attribute ? attribute.confidence.toFixed(4) : undefined, attribute ? provenance(attribute) : undefined);
        cells.push(entry?.shopify.id, entry ? ('fullName' in entry.shopify ? entry.shopify.fullName : entry.shopify.name) : undefined);
        if (task === categoryTask) cells.push(entry?.google?.id, entry?.google?.path);
      }
      cells.push(product.vendorColor?.raw);
      if (colorColumns) {
        const colors = colorAudiences(context.taxonomy!, product.attributes, product.vendorColor, context.minConfidence);
        cells.push(colors?.google?.value, colors?.google?.from);
      }
      return { line: csvLine(cells) };
    },
  };
};

// --- Google supplemental feed (TSV) -------------------------------------------------------------

/** A TSV cell cannot hold a tab or a line break; they become spaces. */
const tsvCell = (value: string | undefined): string => (value ?? '').replace(/[\t\r\n]+/g, ' ');

const google = (context: ExportContext): Formatter => {
  const taxonomy = context.taxonomy;
  if (!taxonomy) throw new Error('the google format needs a taxonomy mapping (taxonomy.json)');
  const categoryTask = taxonomy.categoryTask();
  const attributeTasks = taxonomy.tasks().filter((t) => t.target === 'attribute' && t.googleField !== undefined && own(context.catalog, t.name));
  const columns = ['id', ...(categoryTask ? ['google_product_category'] : []), ...attributeTasks.map((t) => (t.target === 'attribute' ? t.googleField! : t.name))];
  return {
    extension: 'tsv',
    needsView: false,
    header: () => columns.join('\t'),
    row: (product) => {
      const id = context.googleId.replaceAll('{vendor}', product.vendor).replaceAll('{productId}', product.productId);
      if (id.length > GOOGLE_LIMITS.id) return { skip: `id_too_long: "${id}" has ${id.length} characters, Google allows ${GOOGLE_LIMITS.id}` };
      const values: string[] = [];
      if (categoryTask) {
        const attribute = confident(own(product.attributes, categoryTask), context.minConfidence);
        values.push(attribute ? (taxonomy.entry(categoryTask, attribute.value!)?.google?.id ?? '') : '');
      }
      for (const task of attributeTasks) {
        if (task.target !== 'attribute') continue;
        let value = '';
        if (task.vendorColor) value = colorAudiences(taxonomy, product.attributes, product.vendorColor, context.minConfidence)?.google?.value ?? '';
        else {
          const attribute = confident(own(product.attributes, task.name), context.minConfidence);
          value = attribute ? (taxonomy.entry(task.name, attribute.value!)?.shopify.name ?? '') : '';
        }
        if (value.length > GOOGLE_LIMITS.default) value = '';
        values.push(tsvCell(value));
      }
      if (values.every((v) => v === '')) return { skip: 'nothing_to_say: no attribute passed the minimum confidence' };
      return { line: [tsvCell(id), ...values].join('\t') };
    },
  };
};

// --- Shopify bulk update (CSV) ------------------------------------------------------------------

const shopify = (context: ExportContext): Formatter => {
  const taxonomy = context.taxonomy;
  if (!taxonomy) throw new Error('the shopify format needs a taxonomy mapping (taxonomy.json)');
  const categoryTask = taxonomy.categoryTask();
  const attributeTasks = taxonomy.tasks().filter((t) => t.target === 'attribute' && own(context.catalog, t.name));
  return {
    extension: 'csv',
    needsView: false,
    header: () => csvLine(['vendor', 'product_id', ...(categoryTask ? ['category_id', 'category_name'] : []), ...attributeTasks.map((t) => (t.target === 'attribute' ? t.metafield : t.name))]),
    row: (product) => {
      const cells: (string | undefined)[] = [product.vendor, product.productId];
      let any = false;
      if (categoryTask) {
        const attribute = confident(own(product.attributes, categoryTask), context.minConfidence);
        const entry = attribute ? taxonomy.entry(categoryTask, attribute.value!) : undefined;
        cells.push(entry?.shopify.id, entry && 'fullName' in entry.shopify ? entry.shopify.fullName : undefined);
        any ||= entry !== undefined;
      }
      for (const task of attributeTasks) {
        const attribute = confident(own(product.attributes, task.name), context.minConfidence);
        const entry = attribute ? taxonomy.entry(task.name, attribute.value!) : undefined;
        cells.push(entry?.shopify.id);
        any ||= entry !== undefined;
      }
      if (!any) return { skip: 'nothing_to_say: no attribute passed the minimum confidence' };
      return { line: csvLine(cells) };
    },
  };
};

export const formatter = (format: ExportFormat, context: ExportContext): Formatter => {
  switch (format) {
    case 'jsonl':
      return jsonl(context);
    case 'csv':
      return csv(context);
    case 'google':
      return google(context);
    case 'shopify':
      return shopify(context);
  }
};
