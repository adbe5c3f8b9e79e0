/**
 * What the messages of one SQS batch share, so that DynamoDB and the model see one request per
 * batch rather than one per message:
 *   - `gate`: one BatchGetItem tells every message which of its events still have work to do
 *     (stale or already finished events are skipped before any fetch or model call);
 *   - `model`: one model call for all inputs of the batch;
 *   - `merges`: one merge per product, after every message's source writes.
 * Each message must take part in each of them or leave it (see {@link leaveUnjoined}).
 */
import type { InferenceMode, RowOutcome, SourceRow } from '../asyncInference/inferenceMode.js';
import { describeError } from '../errors.js';
import type { SourceFailure } from '../products/items.js';
import type { SourceRef } from '../products/keys.js';
import type { ProductStore, RetagGuard } from '../products/productStore.js';
import { BatchCollector } from './batchCollector.js';
import { MergeBarrier } from './mergeBarrier.js';

export interface SourceEvent {
  ref: SourceRef;
  /** Normalized sequencer of the event. */
  seq: string;
  /** A re-tag event: decided by the re-tag's rule for this model version (ProductStore.sourceStates). */
  retag?: RetagGuard;
}

export interface IngestBatch<I> {
  gate: BatchCollector<SourceEvent, boolean>;
  /** Each row's probabilities, or undefined when the row went to async inference (written later by inference-result). */
  model: BatchCollector<SourceRow<I>, RowOutcome>;
  merges: MergeBarrier<unknown>;
}

export const createIngestBatch = <I>(size: number, store: ProductStore, infer: InferenceMode<I>): IngestBatch<I> => ({
  gate: new BatchCollector<SourceEvent, boolean>(size, (events) => store.sourceStates(events)),
  model: new BatchCollector<SourceRow<I>, RowOutcome>(size, infer),
  merges: new MergeBarrier(size, (vendor, productId) => store.merge(vendor, productId)),
});

/** Where a message got to; whatever it did not join, it leaves, so the others never wait for it. */
export interface BatchProgress {
  gated: boolean;
  modelled: boolean;
  merging: boolean;
}

export const leaveUnjoined = <I>(batch: IngestBatch<I>, progress: BatchProgress): void => {
  if (!progress.gated) batch.gate.leave();
  if (!progress.modelled) batch.model.leave();
  if (!progress.merging) batch.merges.leave();
};

/** Longest error message kept on a pending source. */
const MAX_FAILURE_MESSAGE_CHARS = 500;

/** What a pending source records of the error that failed its message, and on which delivery. */
export const failureOf = (error: unknown, attempt: number | undefined): Omit<SourceFailure, 'at'> => {
  const code = (error as { code?: unknown } | undefined)?.code;
  return {
    code: typeof code === 'string' && code !== '' ? code : error instanceof Error ? error.name : typeof error,
    message: describeError(error).slice(0, MAX_FAILURE_MESSAGE_CHARS),
    ...(attempt !== undefined ? { attempt } : {}),
  };
};

/**
 * A message that fails after the gate is retried; until then its sources show `pending`, with
 * the error and the delivery attempt, so a product waiting on a failing model says why. Best
 * effort: the original error is what counts, and the pending condition never regresses a source
 * that finished or moved on. The products are merged afterwards (also best effort), so the
 * listing counts them as pending.
 */
export const markPending = async (
  store: ProductStore,
  events: readonly { ref: SourceRef; change: { order: string; key: string } }[],
  failure?: Omit<SourceFailure, 'at'>,
): Promise<void> => {
  const marked = await Promise.allSettled(events.map((e) => store.beginSource(e.ref, e.change.order, e.change.key, failure)));
  // The merge moves the product to `pending` in the listing (status filter, counts) while it waits.
  const products = new Map<string, SourceRef>();
  events.forEach((e, i) => {
    const outcome = marked[i];
    if (outcome?.status === 'fulfilled' && outcome.value) products.set(`${e.ref.vendor}/${e.ref.productId}`, e.ref);
  });
  await Promise.allSettled([...products.values()].map((ref) => store.merge(ref.vendor, ref.productId)));
};
