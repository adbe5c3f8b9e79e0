/**
 * Lookups over a validated mapping: the entry of a (task, label) and the task's target. Names
 * index only Maps, so any label is an ordinary key.
 */
import { isMapped, type MappedTaxonomyEntry, type TaxonomyMapping, type TaxonomyTask } from './mapping.js';

export interface AttributeTaxonomy {
  shopify: { id: string; handle?: string; name: string; fullName?: string };
  google?: { id: string; path: string };
}

export class TaxonomyIndex {
  private readonly entries = new Map<string, MappedTaxonomyEntry>();
  private readonly taskSpecs = new Map<string, TaxonomyTask>();

  constructor(readonly mapping: TaxonomyMapping) {
    for (const task of mapping.tasks) this.taskSpecs.set(task.name, task);
    for (const entry of mapping.entries) if (isMapped(entry)) this.entries.set(`${entry.task}\u0000${entry.label}`, entry);
  }

  get release(): TaxonomyMapping['release'] {
    return this.mapping.release;
  }

  task(name: string): TaxonomyTask | undefined {
    return this.taskSpecs.get(name);
  }

  tasks(): TaxonomyTask[] {
    return [...this.taskSpecs.values()];
  }

  entry(task: string, label: string): MappedTaxonomyEntry | undefined {
    return this.entries.get(`${task}\u0000${label}`);
  }

  /** What the API shows under an attribute: the Shopify target and, for categories, Google's. */
  attributeTaxonomy(task: string, label: string | null): AttributeTaxonomy | undefined {
    if (label === null) return undefined;
    const entry = this.entry(task, label);
    if (!entry) return undefined;
    return { shopify: { ...entry.shopify }, ...(entry.google ? { google: { ...entry.google } } : {}) };
  }

  /** The task whose value the vendor's color name describes, if the mapping marks one. */
  vendorColorTask(): string | undefined {
    return this.tasks().find((t) => t.target === 'attribute' && t.vendorColor)?.name;
  }

  categoryTask(): string | undefined {
    return this.tasks().find((t) => t.target === 'category')?.name;
  }
}
