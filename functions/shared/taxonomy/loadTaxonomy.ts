/**
 * The mapping for a running function: loaded once per cold start from the models folder and
 * checked against the manifests' catalog. A label without an entry is logged, never fatal, and so
 * is a broken file: lookups keep working without taxonomy ids rather than failing every request.
 */
import type { TaskCatalog } from '../products/ensemble.js';
import { checkMapping, mappingErrors } from './check.js';
import { loadTaxonomyMapping, resolveTaxonomyFile } from './mapping.js';
import { TaxonomyIndex } from './taxonomyIndex.js';

export interface TaxonomyLog {
  warn(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
}

export const loadTaxonomy = (modelsDir: string, catalog: TaskCatalog, log: TaxonomyLog, env: NodeJS.ProcessEnv = process.env): TaxonomyIndex | undefined => {
  const file = resolveTaxonomyFile(modelsDir, env);
  if (!file) {
    log.warn('no taxonomy mapping for these models; attributes carry no taxonomy ids', { modelsDir });
    return undefined;
  }
  try {
    const mapping = loadTaxonomyMapping(file);
    const problems = mappingErrors(checkMapping(mapping, catalog));
    if (problems.length > 0) log.warn('taxonomy mapping does not cover the models', { file, problems });
    return new TaxonomyIndex(mapping);
  } catch (error) {
    log.error('taxonomy mapping unusable; attributes carry no taxonomy ids', { file, error: (error as Error).message });
    return undefined;
  }
};
