/**
 * One batch of a re-tag: listed keys → the layout's targets → their source items (one consistent
 * BatchGetItem per 100) → the state of each against the deployed model version → a re-tag
 * notification for each source the filters want, sent to its modality's re-tag queue. The same
 * step runs in the re-tag job's child workflow on AWS (functions/retag-batch) and behind the local
 * stack's `POST /local/retag`; only `readRecords` and `send` differ.
 *
 * Sending a batch twice (a retried child workflow, a redriven execution) is harmless: the ingest
 * functions' gate and write condition let one re-tag of a source through and skip the rest.
 */
import type { SourceRef } from '../products/keys.js';
import { chunks } from './batching.js';
import { parseRetagFilters, RETAG_MODALITIES, type RetagFilters, type RetagModality } from './filters.js';
import { retagNotification, retagSequencer, sourceState, SOURCE_STATES, wantsState, type SourceRecord, type SourceState } from './selection.js';
import { classifyKey, IGNORED_REASONS, listedKey, type IgnoredReason, type ListedItem, type RetagTarget } from './targets.js';

/** What the re-tag job's ItemBatcher hands each child workflow (and what `POST /local/retag` takes). */
export interface RetagBatchInput {
  Items: ListedItem[];
  BatchInput: {
    filters?: unknown;
    /** Keys from an S3 Inventory report are URL-encoded; ListObjectsV2 keys are not. */
    keysEncoded?: boolean;
  };
}

export interface RetagBatchResult {
  /** Keys listed in the batch. */
  items: number;
  /** Re-tag messages sent, per modality. */
  queued: Record<RetagModality, number>;
  /** Targets (layout keys of the filters' vendor and modality) per source state, sent or not. */
  states: Record<SourceState, number>;
  ignored: Record<IgnoredReason, number>;
}

export interface RetagBatchDeps {
  /** The source items of these refs (undefined where none exists), strongly consistent. */
  readRecords(refs: readonly SourceRef[]): Promise<(SourceRecord | undefined)[]>;
  /** Sends these notification bodies to the modality's re-tag queue; throws when any could not be sent. */
  send(kind: RetagModality, bodies: string[]): Promise<void>;
  /** The deployed model version of each modality (`weft-image@…`), from the manifests the ingest functions carry. */
  deployed: Partial<Record<RetagModality, string>>;
  bucket: string;
  now?: () => Date;
}

export const emptyRetagResult = (): RetagBatchResult => ({
  items: 0,
  queued: Object.fromEntries(RETAG_MODALITIES.map((m) => [m, 0])) as Record<RetagModality, number>,
  states: Object.fromEntries(SOURCE_STATES.map((s) => [s, 0])) as Record<SourceState, number>,
  ignored: Object.fromEntries(IGNORED_REASONS.map((r) => [r, 0])) as Record<IgnoredReason, number>,
});

export const addRetagResults = (a: RetagBatchResult, b: RetagBatchResult): RetagBatchResult => {
  const sum = emptyRetagResult();
  sum.items = a.items + b.items;
  for (const m of RETAG_MODALITIES) sum.queued[m] = a.queued[m] + b.queued[m];
  for (const s of SOURCE_STATES) sum.states[s] = a.states[s] + b.states[s];
  for (const r of IGNORED_REASONS) sum.ignored[r] = a.ignored[r] + b.ignored[r];
  return sum;
};

export const queuedTotal = (result: RetagBatchResult): number => RETAG_MODALITIES.reduce((n, m) => n + result.queued[m], 0);

/** Keys a single BatchGetItem reads. */
const READ_CHUNK = 100;

export const runRetagBatch = async (deps: RetagBatchDeps, input: RetagBatchInput): Promise<RetagBatchResult> => {
  const filters: RetagFilters = parseRetagFilters(input.BatchInput?.filters);
  const encoded = input.BatchInput?.keysEncoded === true;
  const result = emptyRetagResult();
  const targets: RetagTarget[] = [];
  for (const item of input.Items ?? []) {
    result.items += 1;
    const classified = classifyKey(listedKey(item, encoded), filters);
    if ('ignored' in classified) result.ignored[classified.ignored] += 1;
    else if (deps.deployed[classified.target.kind] === undefined) result.ignored.no_model += 1;
    else targets.push(classified.target);
  }
  const records: (SourceRecord | undefined)[] = [];
  for (const chunk of chunks(targets, READ_CHUNK)) records.push(...(await deps.readRecords(chunk.map((t) => t.ref))));

  const eventTime = (deps.now?.() ?? new Date()).toISOString();
  const bodies: Record<RetagModality, string[]> = { image: [], text: [] };
  targets.forEach((target, i) => {
    const record = records[i];
    const state = sourceState(record, deps.deployed[target.kind]!);
    result.states[state] += 1;
    if (!wantsState(state, filters)) return;
    bodies[target.kind].push(retagNotification({ bucket: deps.bucket, key: target.key, sequencer: retagSequencer(record), eventTime }));
  });
  for (const kind of RETAG_MODALITIES) {
    if (bodies[kind].length === 0) continue;
    await deps.send(kind, bodies[kind]);
    result.queued[kind] = bodies[kind].length;
  }
  return result;
};
