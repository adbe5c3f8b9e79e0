/**
 * The ensemble: turns every source of evidence a product has (each image, its text, vendor-data
 * rules, human corrections) into one value per task, and keeps the per-source breakdown so the
 * result can be explained. Pure: no I/O, no Lambda, no AWS.
 *
 * Per task:
 *   1. image sources are averaged (weighted by their optional `weight`, default 1) into one image
 *      distribution;
 *   2. image, text and rules distributions are combined with the task's weights from ensemble.json
 *      (task entry, else defaults), renormalized over the source kinds that are present;
 *   3. below the task's threshold the attribute abstains (`value: null`);
 *   4. a human correction replaces the result outright.
 * Distributions are keyed by label name, so sources from models whose label order differs (or a
 * model version that added a label) still combine correctly; labels the current manifests do not
 * declare are ignored.
 */
import type { EnsembleConfig, Manifest } from '../manifest.js';
import type { SourceKind } from './keys.js';
import { own, setOwn } from '../ownKeys.js';

/** label → probability */
export type Distribution = Record<string, number>;

/** task → labels, in manifest order. Built from the manifests only. */
export type TaskCatalog = Record<string, readonly string[]>;

export interface EnsembleSource {
  /** Id shown in the breakdown: `image:front.jpg`, `text`, `rules`, `human`. */
  id: string;
  kind: SourceKind;
  /** Relative weight among the product's images (image quality, view type); default 1. */
  weight?: number;
  /** task → distribution over that task's labels. Rules and human sources are one-hot. */
  predictions: Record<string, Distribution>;
}

export interface SourceVote {
  value: string;
  confidence: number;
  /** Share of this source in the final combination (0 for sources a human correction overrode). */
  weight: number;
}

export interface TaskAttribute {
  /** null when the combined confidence is below the task's threshold (the ensemble abstains). */
  value: string | null;
  confidence: number;
  sources: Record<string, SourceVote>;
}

export type Attributes = Record<string, TaskAttribute>;

/** Kinds combined by weight; `human` is not among them because it overrides. */
const WEIGHTED_KINDS = ['image', 'text', 'rules'] as const;
type WeightedKind = (typeof WEIGHTED_KINDS)[number];

/** Union of the manifests' tasks. A task declared by several models gets the union of labels. */
export const taskCatalog = (manifests: readonly Pick<Manifest, 'tasks'>[]): TaskCatalog => {
  const catalog: Record<string, string[]> = {};
  for (const manifest of manifests) {
    for (const task of manifest.tasks) {
      let labels = own(catalog, task.name);
      if (labels === undefined) setOwn(catalog, task.name, (labels = []));
      for (const label of task.labels) if (!labels.includes(label)) labels.push(label);
    }
  }
  return catalog;
};

/** Turns a probability vector in manifest label order into a label-keyed distribution. */
export const toDistribution = (labels: readonly string[], probabilities: readonly number[]): Distribution => {
  if (labels.length !== probabilities.length) {
    throw new Error(`expected ${labels.length} probabilities, got ${probabilities.length}`);
  }
  const out: Distribution = {};
  labels.forEach((label, i) => setOwn(out, label, probabilities[i] ?? 0));
  return out;
};

export const oneHot = (label: string): Distribution => ({ [label]: 1 });

/** Most probable label among `labels` (first one wins ties, so results are deterministic). */
const argmax = (labels: readonly string[], distribution: Distribution): { value: string; confidence: number } | undefined => {
  let best: { value: string; confidence: number } | undefined;
  for (const label of labels) {
    const p = own(distribution, label);
    if (p === undefined || !Number.isFinite(p)) continue;
    if (best === undefined || p > best.confidence) best = { value: label, confidence: p };
  }
  return best;
};

/** Restricts to known labels and rescales to sum 1; undefined if nothing usable remains. */
const normalize = (labels: readonly string[], distribution: Distribution): Distribution | undefined => {
  let total = 0;
  for (const label of labels) {
    const p = own(distribution, label);
    if (p !== undefined && Number.isFinite(p) && p > 0) total += p;
  }
  if (total <= 0) return undefined;
  const out: Distribution = {};
  for (const label of labels) {
    const p = own(distribution, label);
    setOwn(out, label, p !== undefined && Number.isFinite(p) && p > 0 ? p / total : 0);
  }
  return out;
};

const weightedSum = (labels: readonly string[], parts: readonly { weight: number; distribution: Distribution }[]): Distribution => {
  const total = parts.reduce((sum, part) => sum + part.weight, 0);
  const out: Distribution = {};
  for (const label of labels) {
    setOwn(out, label, parts.reduce((sum, part) => sum + part.weight * (own(part.distribution, label) ?? 0), 0) / total);
  }
  return out;
};

export interface TaskSettings {
  weights: Record<string, number>;
  threshold: number;
}

/** A task's weights fall back kind by kind to the defaults, so a fitted file need not list every kind. */
export const taskSettings = (config: EnsembleConfig, task: string): TaskSettings => {
  const specific = own(config.tasks, task);
  return {
    weights: { ...config.defaults.weights, ...(specific?.weights ?? {}) },
    threshold: specific?.threshold ?? config.defaults.threshold,
  };
};

const round = (x: number): number => Math.round(x * 1e6) / 1e6;

/** A task's merged attribute and, unless a human decided it, the combined distribution behind it. */
interface MergedTask {
  attribute: TaskAttribute;
  combined?: Distribution;
}

const mergeTask = (task: string, labels: readonly string[], sources: readonly EnsembleSource[], settings: TaskSettings): MergedTask | undefined => {
  const votes: Record<string, SourceVote> = {};
  const byKind = new Map<WeightedKind, { weight: number; distribution: Distribution; members: { id: string; share: number }[] }>();
  let human: { id: string; value: string } | undefined;

  const images: { id: string; weight: number; distribution: Distribution }[] = [];
  for (const source of sources) {
    const raw = own(source.predictions, task);
    if (raw === undefined) continue;
    const distribution = normalize(labels, raw);
    if (distribution === undefined) continue;
    const top = argmax(labels, distribution);
    if (top === undefined) continue;
    setOwn(votes, source.id, { value: top.value, confidence: round(top.confidence), weight: 0 });
    if (source.kind === 'human') {
      human = { id: source.id, value: top.value };
    } else if (source.kind === 'image') {
      images.push({ id: source.id, weight: Math.max(source.weight ?? 1, 0), distribution });
    } else {
      byKind.set(source.kind, { weight: 1, distribution, members: [{ id: source.id, share: 1 }] });
    }
  }
  if (images.length > 0) {
    const total = images.reduce((sum, image) => sum + image.weight, 0);
    // Images all weighted 0 would divide by zero; they still count, equally.
    const parts = total > 0 ? images : images.map((image) => ({ ...image, weight: 1 }));
    const partTotal = parts.reduce((sum, image) => sum + image.weight, 0);
    byKind.set('image', {
      weight: 1,
      distribution: weightedSum(labels, parts),
      members: parts.map((image) => ({ id: image.id, share: image.weight / partTotal })),
    });
  }
  if (Object.keys(votes).length === 0) return undefined;

  if (human !== undefined) {
    const vote = own(votes, human.id);
    if (vote) vote.weight = 1;
    return { attribute: { value: human.value, confidence: 1, sources: votes } };
  }

  const present = WEIGHTED_KINDS.filter((kind) => byKind.has(kind));
  let kindWeights = present.map((kind) => Math.max(settings.weights[kind] ?? 0, 0));
  // A present source whose kind has no weight anywhere is still evidence; only when every present
  // kind is unweighted do they share equally, otherwise the fitted weights stand.
  if (kindWeights.every((w) => w === 0)) kindWeights = present.map(() => 1);
  const totalWeight = kindWeights.reduce((sum, w) => sum + w, 0);
  const parts = present.map((kind, i) => ({ kind, weight: (kindWeights[i] ?? 0) / totalWeight, entry: byKind.get(kind)! }));
  for (const part of parts) {
    for (const member of part.entry.members) {
      const vote = own(votes, member.id);
      if (vote) vote.weight = round(part.weight * member.share);
    }
  }
  const combined = weightedSum(
    labels,
    parts.filter((part) => part.weight > 0).map((part) => ({ weight: part.weight, distribution: part.entry.distribution })),
  );
  const top = argmax(labels, combined);
  if (top === undefined) return { attribute: { value: null, confidence: 0, sources: votes }, combined };
  return {
    attribute: {
      value: top.confidence >= settings.threshold ? top.value : null,
      confidence: round(top.confidence),
      sources: votes,
    },
    combined,
  };
};

/** Merges all sources into per-task attributes; tasks without any usable source are left out. */
export const mergeAttributes = (sources: readonly EnsembleSource[], catalog: TaskCatalog, config: EnsembleConfig): Attributes => {
  const attributes: Attributes = {};
  for (const [task, labels] of Object.entries(catalog)) {
    const merged = mergeTask(task, labels, sources, taskSettings(config, task));
    if (merged !== undefined) setOwn(attributes, task, merged.attribute);
  }
  return attributes;
};

/** How sure the ensemble is of a task it decided (no human correction): what a review queue orders by. */
export interface TaskRanking {
  /** Probability of the best label minus that of the runner-up (0: a coin toss, 1: no doubt). */
  margin: number;
  /** The best labels of the combined distribution, most probable first (at most {@link RANKED_LABELS}). */
  top: { value: string; p: number }[];
}

export const RANKED_LABELS = 3;

/**
 * Per task that the models decided, the margin and the leading labels of the combined
 * distribution — also when the ensemble abstains, which is when a person helps most. Tasks a
 * human corrected are left out: nothing is left to review.
 */
export const rankTasks = (sources: readonly EnsembleSource[], catalog: TaskCatalog, config: EnsembleConfig): Record<string, TaskRanking> => {
  const rankings: Record<string, TaskRanking> = {};
  for (const [task, labels] of Object.entries(catalog)) {
    const combined = mergeTask(task, labels, sources, taskSettings(config, task))?.combined;
    if (combined === undefined) continue;
    // Stable sort over manifest order: ties keep the order argmax uses.
    const ranked = labels.map((value) => ({ value, p: own(combined, value) ?? 0 })).sort((a, b) => b.p - a.p);
    const margin = (ranked[0]?.p ?? 0) - (ranked[1]?.p ?? 0);
    setOwn(rankings, task, { margin: round(margin), top: ranked.slice(0, RANKED_LABELS).map((r) => ({ value: r.value, p: round(r.p) })) });
  }
  return rankings;
};
