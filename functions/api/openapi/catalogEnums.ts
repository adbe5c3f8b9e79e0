/**
 * Fills the loaded models' task names and labels into a generated document: the schemas only
 * mark which strings are task names or labels and which maps are keyed by task (schemas.ts), so
 * the document of a deployment lists exactly the tasks and labels its manifests declare.
 *
 *   task   → `enum` of the task names
 *   label  → `enum` of that task's labels inside a map keyed by task, else of every task's labels
 *   byTask → an object with one optional property per task (its labels filled in), nothing else
 *   taskLabel → `enum` of every `{task}:{label}` pair (a listing filter)
 */
import { own, setOwn } from '../../shared/ownKeys.js';
import type { TaskCatalog } from '../../shared/products/ensemble.js';
import { CATALOG_KEYWORD, type CatalogMarker } from './schemas.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

const COMPONENT_REF = '#/components/schemas/';

export const fillCatalog = <T extends object>(document: T, catalog: TaskCatalog): T => {
  const tasks = Object.keys(catalog);
  const allLabels = [...new Set(Object.values(catalog).flat())];
  const components = (isObject((document as JsonObject).components) ? ((document as JsonObject).components as JsonObject).schemas : undefined) as JsonObject | undefined;

  /** `labels`: the labels of the task whose entry this is, inside a map keyed by task. */
  const fill = (node: Json, labels: readonly string[] | undefined): Json => {
    if (Array.isArray(node)) return node.map((item) => fill(item, labels));
    if (!isObject(node)) return node;
    const ref = node.$ref;
    // A shared component inside one task's entry gets that task's labels: inline it.
    if (labels !== undefined && typeof ref === 'string' && ref.startsWith(COMPONENT_REF) && components) {
      const target = own(components, ref.slice(COMPONENT_REF.length));
      if (target !== undefined) return fill(target, labels);
    }
    const marker = own(node, CATALOG_KEYWORD);
    const out: JsonObject = {};
    for (const [key, value] of Object.entries(node)) if (key !== CATALOG_KEYWORD) setOwn(out, key, fill(value, labels));
    switch (marker as CatalogMarker | undefined) {
      case 'task':
        if (tasks.length > 0) out.enum = tasks;
        break;
      case 'label': {
        const names = labels ?? allLabels;
        if (names.length > 0) out.enum = [...names];
        break;
      }
      case 'byTask': {
        if (tasks.length === 0) break;
        const entry = own(node, 'additionalProperties') ?? {};
        delete out.propertyNames;
        out.properties = Object.fromEntries(tasks.map((task) => [task, fill(entry, own(catalog, task) ?? [])]));
        out.additionalProperties = false;
        break;
      }
      case 'taskLabel': {
        const pairs = tasks.flatMap((task) => (own(catalog, task) ?? []).map((label) => `${task}:${label}`));
        if (pairs.length > 0) out.enum = pairs;
        break;
      }
      default:
        break;
    }
    return out;
  };

  return fill(document as unknown as Json, undefined) as unknown as T;
};
