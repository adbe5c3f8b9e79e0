/**
 * The mapping checked against the models' task catalog: every label of every task must have an
 * entry, mapped or explicitly unmapped with a reason. Problems are reported, never dropped.
 */
import type { TaskCatalog } from '../products/ensemble.js';
import { own } from '../ownKeys.js';
import { isMapped, type TaxonomyMapping } from './mapping.js';

export interface MappingReport {
  /** (task, label) pairs of the catalog without any entry: an error. */
  missing: { task: string; label: string }[];
  /** Catalog tasks the mapping's `tasks` does not declare: an error. */
  missingTasks: string[];
  /** Entries whose label (or task) no manifest declares: stale, an error. */
  stale: { task: string; label: string }[];
  /** Labels explicitly left unmapped, with the reason the file gives: reported, allowed. */
  unmapped: { task: string; label: string; reason: string }[];
  mapped: number;
}

export const checkMapping = (mapping: TaxonomyMapping, catalog: TaskCatalog): MappingReport => {
  const entries = new Map(mapping.entries.map((e) => [`${e.task}\u0000${e.label}`, e]));
  const declared = new Set(mapping.tasks.map((t) => t.name));
  const report: MappingReport = { missing: [], missingTasks: [], stale: [], unmapped: [], mapped: 0 };
  for (const task of Object.keys(catalog)) {
    if (!declared.has(task)) report.missingTasks.push(task);
    for (const label of own(catalog, task) ?? []) {
      const entry = entries.get(`${task}\u0000${label}`);
      if (!entry) report.missing.push({ task, label });
      else if (isMapped(entry)) report.mapped += 1;
      else report.unmapped.push({ task, label, reason: entry.unmapped });
    }
  }
  for (const entry of mapping.entries) {
    if (!own(catalog, entry.task)?.includes(entry.label)) report.stale.push({ task: entry.task, label: entry.label });
  }
  return report;
};

export const mappingErrors = (report: MappingReport): string[] => [
  ...report.missingTasks.map((task) => `task ${task} is not declared in the taxonomy mapping`),
  ...report.missing.map(({ task, label }) => `${task}/${label} has no taxonomy entry (map it, or mark it "unmapped" with a reason)`),
  ...report.stale.map(({ task, label }) => `${task}/${label} is mapped but no model manifest declares it`),
];
