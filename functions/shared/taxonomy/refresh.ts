/**
 * Regenerates the mapping from a taxonomy release: the choice of target per label stays as the
 * current file has it (that is editorial), everything derived from the release — names, handles,
 * the Google category — is read again. What changed is reported: renamed, moved (Shopify's
 * shopify-to-shopify mapping names a successor), removed (the entry becomes unmapped, with the
 * reason, so the validator flags it for a decision), Google category changed, and values an
 * attribute gained that no label uses yet. Pure: file reading is in release.ts.
 */
import {
  SHOPIFY_CATEGORY_ID,
  isMapped,
  type MappedTaxonomyEntry,
  type TaxonomyEntry,
  type TaxonomyMapping,
  type TaxonomyTask,
} from './mapping.js';
import type { TaxonomyRelease } from './release.js';

export type ChangeKind = 'renamed' | 'moved' | 'removed' | 'google' | 'attribute' | 'new-value';

export interface TaxonomyChange {
  kind: ChangeKind;
  task: string;
  /** Absent for task-level changes (attribute renamed, new values). */
  label?: string;
  message: string;
}

export interface RefreshResult {
  mapping: TaxonomyMapping;
  changes: TaxonomyChange[];
  /** Inconsistencies of the release folder itself (not of the mapping). */
  warnings: string[];
}

const lastSegment = (fullName: string): string => fullName.split(' > ').at(-1)!;

const refreshTask = (task: TaxonomyTask, release: TaxonomyRelease, changes: TaxonomyChange[]): TaxonomyTask => {
  if (task.target === 'category') return task;
  const attribute = release.attributes.get(task.attribute.handle) ?? [...release.attributes.values()].find((a) => a.id === task.attribute.id);
  if (!attribute) {
    changes.push({ kind: 'attribute', task: task.name, message: `attribute ${task.attribute.handle} (${task.attribute.id}) is not in release ${release.version}` });
    return task;
  }
  const next = { id: attribute.id, handle: attribute.handle, name: attribute.name };
  const releaseValues = attribute.values.map((v) => v.id).sort(byNumericId);
  if (next.id !== task.attribute.id || next.handle !== task.attribute.handle || next.name !== task.attribute.name) {
    changes.push({ kind: 'attribute', task: task.name, message: `attribute ${task.attribute.handle} "${task.attribute.name}" (${task.attribute.id}) is now ${next.handle} "${next.name}" (${next.id})` });
  }
  return { ...task, attribute: next, releaseValues };
};

const byNumericId = (a: string, b: string): number => Number(a.split('/').at(-1)) - Number(b.split('/').at(-1)) || a.localeCompare(b);

const removed = (entry: MappedTaxonomyEntry, release: TaxonomyRelease, what: string, changes: TaxonomyChange[]): TaxonomyEntry => {
  const reason = `removed in Shopify taxonomy ${release.version}: ${what}; choose a new target`;
  changes.push({ kind: 'removed', task: entry.task, label: entry.label, message: `${what} is not in release ${release.version}; marked unmapped` });
  return { task: entry.task, label: entry.label, unmapped: reason };
};

const refreshCategory = (entry: MappedTaxonomyEntry, release: TaxonomyRelease, successors: Map<string, string[]> | undefined, changes: TaxonomyChange[]): TaxonomyEntry => {
  let id = entry.shopify.id;
  if (!release.categories.has(id)) {
    const next = successors?.get(id)?.filter((c) => release.categories.has(c)) ?? [];
    if (next.length !== 1) {
      const hint = next.length > 1 ? ` (Shopify maps it to ${next.join(', ')})` : '';
      return removed(entry, release, `category ${id} "${'fullName' in entry.shopify ? entry.shopify.fullName : entry.shopify.name}"${hint}`, changes);
    }
    changes.push({ kind: 'moved', task: entry.task, label: entry.label, message: `category ${id} is ${next[0]} in release ${release.version}` });
    id = next[0]!;
  }
  const fullName = release.categories.get(id)!;
  const previous = 'fullName' in entry.shopify ? entry.shopify.fullName : undefined;
  if (previous !== undefined && previous !== fullName && id === entry.shopify.id) {
    changes.push({ kind: 'renamed', task: entry.task, label: entry.label, message: `${id} "${previous}" is now "${fullName}"` });
  }
  const google = release.google.get(id);
  const before = entry.google;
  if (before?.id !== google?.id || before?.path !== google?.path) {
    changes.push({
      kind: 'google',
      task: entry.task,
      label: entry.label,
      message: `Google category ${before ? `${before.id} "${before.path}"` : 'none'} is now ${google ? `${google.id} "${google.path}"` : 'none'}`,
    });
  }
  const { google: _google, ...rest } = entry;
  return { ...rest, shopify: { id, name: lastSegment(fullName), fullName }, ...(google ? { google: { ...google } } : {}) };
};

const refreshValue = (entry: MappedTaxonomyEntry, task: Extract<TaxonomyTask, { target: 'attribute' }>, release: TaxonomyRelease, changes: TaxonomyChange[]): TaxonomyEntry => {
  const values = release.attributes.get(task.attribute.handle)?.values ?? [];
  const handle = 'handle' in entry.shopify ? entry.shopify.handle : undefined;
  let value = values.find((v) => v.id === entry.shopify.id);
  if (!value && handle !== undefined) {
    value = values.find((v) => v.handle === handle);
    if (value) changes.push({ kind: 'moved', task: entry.task, label: entry.label, message: `value ${handle} is ${value.id} (was ${entry.shopify.id}) in release ${release.version}` });
  }
  if (!value) return removed(entry, release, `value ${entry.shopify.id} "${handle ?? entry.shopify.name}"`, changes);
  if (value.id === entry.shopify.id && (value.handle !== handle || value.name !== entry.shopify.name)) {
    changes.push({ kind: 'renamed', task: entry.task, label: entry.label, message: `${value.id} ${handle} "${entry.shopify.name}" is now ${value.handle} "${value.name}"` });
  }
  return { ...entry, shopify: { id: value.id, handle: value.handle, name: value.name } };
};

export const refreshMapping = (mapping: TaxonomyMapping, release: TaxonomyRelease, successors?: Map<string, string[]>): RefreshResult => {
  const changes: TaxonomyChange[] = [];
  const warnings: string[] = [];
  if (release.attributesVersion !== release.version) {
    warnings.push(`attributes.json is from release ${release.attributesVersion}, the Google category mapping from ${release.version}`);
  }
  const known = new Map(mapping.tasks.map((t) => [t.name, t.target === 'attribute' ? t.releaseValues : undefined]));
  const tasks = mapping.tasks.map((task) => refreshTask(task, release, changes));
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const entries = mapping.entries.map((entry): TaxonomyEntry => {
    if (!isMapped(entry)) return entry;
    const task = byName.get(entry.task);
    if (!task) return entry;
    if (task.target === 'category' && SHOPIFY_CATEGORY_ID.test(entry.shopify.id)) return refreshCategory(entry, release, successors, changes);
    if (task.target === 'attribute') return refreshValue(entry, task, release, changes);
    return entry;
  });
  for (const task of tasks) {
    if (task.target !== 'attribute') continue;
    // Without the previous release's value list every value would look new; the first refresh records it.
    const before = known.get(task.name);
    if (!before) continue;
    const previous = new Set(before);
    const used = new Set(entries.filter(isMapped).filter((e) => e.task === task.name).map((e) => e.shopify.id));
    for (const value of release.attributes.get(task.attribute.handle)?.values ?? []) {
      if (!previous.has(value.id)) changes.push({ kind: 'new-value', task: task.name, message: `${value.handle} "${value.name}" (${value.id}) is new in release ${release.version}${used.has(value.id) ? '' : `; no ${task.name} label uses it`}` });
    }
  }
  return {
    mapping: {
      ...mapping,
      release: { ...mapping.release, version: release.version, google: release.googleVersion, sources: release.sources.map((s) => `dist/en/${s}`) },
      tasks,
      entries,
    },
    changes,
    warnings,
  };
};

/** The report `weft taxonomy refresh` prints: one line per change, grouped by kind. */
export const formatChanges = (from: string, result: RefreshResult): string => {
  const lines = [`Shopify taxonomy ${from} -> ${result.mapping.release.version} (Google ${result.mapping.release.google})`];
  for (const warning of result.warnings) lines.push(`warning    ${warning}`);
  const order: ChangeKind[] = ['removed', 'moved', 'renamed', 'google', 'attribute', 'new-value'];
  for (const kind of order) {
    for (const change of result.changes.filter((c) => c.kind === kind)) {
      lines.push(`${kind.padEnd(10)} ${change.label === undefined ? change.task : `${change.task}/${change.label}`}: ${change.message}`);
    }
  }
  const significant = result.changes.filter((c) => c.kind !== 'new-value').length;
  lines.push(significant === 0 ? `no changes to the ${result.mapping.entries.length} entries` : `${significant} change${significant === 1 ? '' : 's'} to review`);
  return lines.join('\n');
};
