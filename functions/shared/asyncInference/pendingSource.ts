/**
 * A source waiting for its model probabilities, and the one way its result is written — by the
 * ingest functions when the model answered synchronously, by inference-result when an async
 * request completed. Serializable: in async mode it travels in the request's sidecar.
 */
import { z } from 'zod';
import type { TaskSpec } from '../manifest.js';
import type { TaskProbabilities } from '../inference/types.js';
import { modelVersion } from '../ingest/config.js';
import { toPredictions } from '../ingest/predictions.js';
import type { Distribution } from '../products/ensemble.js';
import type { RecordedError } from '../products/items.js';
import type { SourceRef } from '../products/keys.js';
import type { ProductStore } from '../products/productStore.js';

const SourceRefSchema = z.object({
  vendor: z.string().min(1),
  productId: z.string().min(1),
  kind: z.enum(['image', 'text', 'rules', 'human']),
  name: z.string().min(1).optional(),
});

const DistributionSchema = z.record(z.string(), z.number());

export const PendingSourceSchema = z.object({
  ref: SourceRefSchema,
  /** Normalized S3 sequencer of the upload event: the guard every write of this source uses. */
  seq: z.string().min(1),
  /** The upload's object key. */
  key: z.string().min(1),
  /**
   * Attributes of the tagged source besides predictions: an image's weight, garment box and the
   * views written under derived/; text, vendor color, document of product.json.
   */
  fields: z
    .object({
      weight: z.number().optional(),
      box: z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number(), score: z.number() }).optional(),
      views: z.array(z.string()).optional(),
      text: z.string().optional(),
      vendorColor: z.object({ raw: z.string(), normalized: z.string() }).optional(),
      document: z.string().optional(),
    })
    .optional(),
  /**
   * Sources derived from the same upload without the model (the rules source of product.json),
   * written before this source is completed: predictions to put, null to remove.
   */
  related: z.array(z.object({ ref: SourceRefSchema, predictions: z.record(z.string(), DistributionSchema).nullable() })).optional(),
  /**
   * The row re-tags the object as it is (a re-tag notification, functions/shared/retag): its
   * result is written under the re-tag's condition, so it never rewrites a source tagged at this
   * model version and yields to a newer upload.
   */
  retag: z.literal(true).optional(),
});

export type PendingSource = z.infer<typeof PendingSourceSchema> & { ref: SourceRef; related?: { ref: SourceRef; predictions: Record<string, Distribution> | null }[] };

/** What the result is written with: the manifest (or, in async mode, the sidecar's copy of it). */
export interface ModelIdentity {
  name: string;
  version: string;
  tasks: readonly Pick<TaskSpec, 'name' | 'labels'>[];
}

const writeRelated = async (store: ProductStore, source: PendingSource): Promise<void> => {
  for (const related of source.related ?? []) {
    if (related.predictions) await store.putSource(related.ref, source.seq, source.key, { status: 'tagged', predictions: related.predictions });
    else await store.removeSource(related.ref, source.seq, source.key);
  }
};

/**
 * Records the model's probabilities on the source; false when a newer upload took over or this
 * event already finished (the sequencer guard of ProductStore.completeSource), which makes a
 * redelivered result a no-op.
 *
 * The related sources go first and the source's completion last: the ingest gate skips an event
 * whose source is complete, so whatever is written after it would never be redone on a retry.
 * Related writes are guarded by the same sequencer and may be repeated by the same event, so a
 * retry (or a redelivered result) rewrites them idempotently, and an older event cannot overwrite
 * what a newer one wrote.
 */
export const writeTagged = async (store: ProductStore, model: ModelIdentity, source: PendingSource, probabilities: TaskProbabilities): Promise<boolean> => {
  const outcome = { status: 'tagged', predictions: toPredictions({ tasks: [...model.tasks] }, probabilities), modelVersion: modelVersion(model), ...source.fields } as const;
  await writeRelated(store, source);
  return store.completeSource(source.ref, source.seq, outcome, source.key, source.retag ? { modelVersion: outcome.modelVersion } : undefined);
};

/**
 * Records that the model could not tag the source (async inference failed for good). The text and
 * document stay on the source, and sources that do not need the model (rules) are written as usual.
 */
export const writeFailed = async (store: ProductStore, source: PendingSource, error: RecordedError): Promise<boolean> => {
  // Related sources first, for the reason given at writeTagged.
  await writeRelated(store, source);
  return store.completeSource(
    source.ref,
    source.seq,
    { status: 'error', error, ...(source.fields?.text !== undefined ? { text: source.fields.text } : {}), ...(source.fields?.document !== undefined ? { document: source.fields.document } : {}) },
    source.key,
  );
};
