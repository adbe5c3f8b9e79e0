/**
 * text-ingest, without Lambda: what is specific to product.json in the shared per-message mechanism
 * (IngestStep); the batch shares one source-state read, one text model call and one merge per
 * product (IngestBatch).
 *
 * created product.json → still current? (the batch's one BatchGetItem; stale or finished events
 *   stop here) → fetch (size-capped) → validate → clean text → model → text source tagged
 *   (sequencer-guarded write); vendor color → rules source → merge; a failure marks it pending
 * removed product.json → tombstone text and rules sources → merge
 * Invalid JSON or a missing title is recorded on the product as the text source's error.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { describeError, type PermanentError } from '../shared/errors.js';
import type { SourceRef } from '../shared/products/keys.js';
import type { S3Change } from '../shared/ingest/s3Events.js';
import { readObject, tooLarge } from '../shared/ingest/readObject.js';
import type { IngestBatch } from '../shared/ingest/ingestBatch.js';
import { IngestStep, type IngestDeps, type IngestEvent, type ModelRow } from '../shared/ingest/ingestStep.js';
import { buildModelText, parseProductDocument, storableDocument, vendorColorEvidence, type ProductDocument } from './productDocument.js';

/** product.json is metadata; anything bigger than this is not a product description. */
export const MAX_PRODUCT_JSON_BYTES = 1_048_576;

export interface TextIngestDeps extends IngestDeps {
  /** Optional per-vendor boilerplate removal applied to the model text. */
  stripBoilerplate?: (vendor: string, productId: string, text: string) => Promise<string>;
}

interface Prepared {
  document: ProductDocument;
  text: string;
}

const textRef = (vendor: string, productId: string): SourceRef => ({ vendor, productId, kind: 'text' });
const rulesRef = (vendor: string, productId: string): SourceRef => ({ vendor, productId, kind: 'rules' });

export class TextIngest {
  private readonly step: IngestStep<'text', Prepared, string>;

  constructor(private readonly deps: TextIngestDeps) {
    this.step = new IngestStep(deps, {
      kind: 'text',
      sourceRef: ({ vendor, productId }) => textRef(vendor, productId),
      remove: (change, ref) => this.remove(change, ref),
      prepare: (event) => this.prepare(event),
      row: (event, prepared) => this.row(event, prepared),
      recordError: (event, error) => this.recordError(event, error),
      taggedMetric: 'TextsTagged',
    });
  }

  /** Processes one SQS message (delivery `attempt`); `batch` (gate, model call, merges) is shared by all messages of the batch. */
  handleMessage(body: string, batch: IngestBatch<string>, attempt?: number): Promise<void> {
    return this.step.handleMessage(body, batch, attempt);
  }

  private async remove(change: S3Change, ref: SourceRef): Promise<void> {
    const { store } = this.deps;
    if (await store.removeSource(ref, change.order, change.key)) {
      await store.removeSource(rulesRef(ref.vendor, ref.productId), change.order, change.key);
    }
  }

  private async prepare({ change, ref }: IngestEvent): Promise<Prepared> {
    const { config, manifest, s3, stripBoilerplate } = this.deps;
    const cap = Math.min(config.maxObjectBytes, MAX_PRODUCT_JSON_BYTES);
    if (change.size !== undefined && change.size > cap) throw tooLarge(change.size, cap);
    const document = parseProductDocument(await readObject(s3, change.bucket, change.key, cap));
    let text = buildModelText(document, manifest.preprocessing.text!.fields);
    if (stripBoilerplate) text = await stripBoilerplate(ref.vendor, ref.productId, text);
    return { document, text };
  }

  private row({ ref }: IngestEvent, { document, text }: Prepared): ModelRow<string> {
    const { vendorColor, rules } = vendorColorEvidence(document, this.deps.store.catalog);
    const stored = storableDocument(document);
    return {
      input: text,
      source: {
        fields: { text, ...(vendorColor ? { vendorColor } : {}), ...(stored ? { document: stored } : {}) },
        // The vendor's color name is a source of its own, written (or cleared) with the text source.
        related: [{ ref: rulesRef(ref.vendor, ref.productId), predictions: rules ?? null }],
      },
    };
  }

  private async recordError({ change, ref }: IngestEvent, error: PermanentError): Promise<void> {
    this.deps.logger.warn('product.json refused', { key: change.key, code: error.code, error: describeError(error) });
    this.deps.metrics.addMetric('TextErrors', MetricUnit.Count, 1);
    // A product.json that no longer yields a vendor color withdraws its rules vote, before the
    // text source completes: the gate skips a completed event, so a retry must find it undone.
    await this.deps.store.removeSource(rulesRef(ref.vendor, ref.productId), change.order, change.key);
    await this.deps.store.completeSource(ref, change.order, { status: 'error', error: { code: error.code, message: error.message } }, change.key);
  }
}
