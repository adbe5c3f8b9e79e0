/**
 * text-ingest, without Lambda: product.json events, one SQS message at a time, one text model call
 * per batch; the batch shares one source-state read, one model call and one merge per product (IngestBatch).
 *
 * created product.json → still current? (the batch's one BatchGetItem; stale or finished events
 *   stop here) → fetch (size-capped) → validate → clean text → model → text source tagged
 *   (sequencer-guarded write); vendor color → rules source → merge; a failure marks it pending
 * removed product.json → tombstone text and rules sources → merge
 * Invalid JSON or a missing title is recorded on the product as the text source's error.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { PermanentError, describeError, isPermanent } from '../shared/errors.js';
import { parseKey } from '../shared/layout.js';
import type { LoadedManifest } from '../shared/manifest.js';
import { writeTagged } from '../shared/asyncInference/pendingSource.js';
import type { RowOutcome, SourceRow } from '../shared/asyncInference/inferenceMode.js';
import type { SourceRef } from '../shared/products/keys.js';
import type { ProductStore } from '../shared/products/productStore.js';
import type { BatchCollector } from '../shared/ingest/batchCollector.js';
import type { PipelineConfig } from '../shared/ingest/config.js';
import { parseS3Notification, type S3Change } from '../shared/ingest/s3Events.js';
import { readObject, tooLarge } from '../shared/ingest/readObject.js';
import { ProductSet } from '../shared/ingest/sqsBatch.js';
import { leaveUnjoined, markPending, type BatchProgress, type IngestBatch } from '../shared/ingest/ingestBatch.js';
import { buildModelText, parseProductDocument, storableDocument, vendorColorEvidence, type ProductDocument } from './productDocument.js';

/** product.json is metadata; anything bigger than this is not a product description. */
export const MAX_PRODUCT_JSON_BYTES = 1_048_576;

export interface TextIngestDeps {
  config: PipelineConfig;
  manifest: LoadedManifest;
  s3: S3Client;
  store: ProductStore;
  logger: Logger;
  metrics: Metrics;
  /** Optional per-vendor boilerplate removal applied to the model text. */
  stripBoilerplate?: (vendor: string, productId: string, text: string) => Promise<string>;
}

interface Created {
  change: S3Change;
  vendor: string;
  productId: string;
  ref: SourceRef;
}

interface Claimed extends Created {
  document: ProductDocument;
  text: string;
}

const textRef = (vendor: string, productId: string): SourceRef => ({ vendor, productId, kind: 'text' });
const rulesRef = (vendor: string, productId: string): SourceRef => ({ vendor, productId, kind: 'rules' });

export class TextIngest {
  constructor(private readonly deps: TextIngestDeps) {}

  /** Processes one SQS message; `batch` (gate, model call, merges) is shared by all messages of the batch. */
  async handleMessage(body: string, batch: IngestBatch<string>): Promise<void> {
    const progress: BatchProgress = { gated: false, modelled: false, merging: false };
    /** Events past the gate whose result is not written yet: marked pending if this message fails. */
    let started: Created[] = [];
    try {
      const changes = parseS3Notification(body);
      const touched = new ProductSet();
      const created: Created[] = [];
      for (const change of changes) {
        const item = await this.route(change, touched);
        if (item) created.push(item);
      }
      progress.gated = true;
      const current = await batch.gate.submit(created.map((c) => ({ ref: c.ref, seq: c.change.order })));
      const claimed: Claimed[] = [];
      for (const [i, c] of created.entries()) {
        if (!current[i]) {
          this.deps.logger.info('product.json event already processed or superseded', { key: c.change.key });
          continue;
        }
        started.push(c);
        try {
          claimed.push({ ...c, ...(await this.prepare(c.change, c.vendor, c.productId)) });
        } catch (error) {
          if (!isPermanent(error)) throw error;
          await this.recordError(c.change, c.vendor, c.productId, error);
        }
      }
      progress.modelled = true;
      await this.tag(claimed, batch.model);
      started = [];
      progress.merging = true;
      await batch.merges.merge(touched.values());
    } catch (error) {
      await markPending(this.deps.store, started);
      throw error;
    } finally {
      leaveUnjoined(batch, progress);
    }
  }

  private async route(change: S3Change, touched: ProductSet): Promise<Created | undefined> {
    const { logger, store } = this.deps;
    const parsed = parseKey(change.key);
    switch (parsed.kind) {
      case 'derived':
        return undefined;
      case 'rejected':
        if (change.action === 'created') {
          await store.recordRejection({ key: change.key, bucket: change.bucket, code: 'outside_layout', reason: parsed.reason, eventTime: change.eventTime });
          this.deps.metrics.addMetric('Rejections', MetricUnit.Count, 1);
          logger.warn('upload rejected', { key: change.key, reason: parsed.reason });
        }
        return undefined;
      case 'image':
        logger.warn('image delivered to text-ingest; ignored', { key: change.key });
        return undefined;
      case 'text': {
        const { vendor, productId } = parsed;
        touched.add(parsed);
        if (change.action === 'removed') {
          if (await store.removeSource(textRef(vendor, productId), change.order, change.key)) {
            await store.removeSource(rulesRef(vendor, productId), change.order, change.key);
          }
          return undefined;
        }
        return { change, vendor, productId, ref: textRef(vendor, productId) };
      }
    }
  }

  private async prepare(change: S3Change, vendor: string, productId: string): Promise<{ document: ProductDocument; text: string }> {
    const { config, manifest, s3, stripBoilerplate } = this.deps;
    const cap = Math.min(config.maxObjectBytes, MAX_PRODUCT_JSON_BYTES);
    if (change.size !== undefined && change.size > cap) throw tooLarge(change.size, cap);
    const document = parseProductDocument(await readObject(s3, change.bucket, change.key, cap));
    let text = buildModelText(document, manifest.preprocessing.text!.fields);
    if (stripBoilerplate) text = await stripBoilerplate(vendor, productId, text);
    return { document, text };
  }

  private async tag(claimed: Claimed[], collector: BatchCollector<SourceRow<string>, RowOutcome>): Promise<void> {
    const { store, manifest, metrics } = this.deps;
    const rows: SourceRow<string>[] = claimed.map((c) => {
      const { vendorColor, rules } = vendorColorEvidence(c.document, store.catalog);
      const document = storableDocument(c.document);
      return {
        input: c.text,
        source: {
          ref: c.ref,
          seq: c.change.order,
          key: c.change.key,
          fields: { text: c.text, ...(vendorColor ? { vendorColor } : {}), ...(document ? { document } : {}) },
          // The vendor's color name is a source of its own, written (or cleared) with the text source.
          related: [{ ref: rulesRef(c.vendor, c.productId), predictions: rules ?? null }],
        },
      };
    });
    let results: RowOutcome[];
    try {
      results = await collector.submit(rows);
    } catch (error) {
      if (!isPermanent(error)) throw error;
      for (const c of claimed) await this.recordError(c.change, c.vendor, c.productId, error);
      return;
    }
    await Promise.all(
      rows.map(async (row, i) => {
        // Async inference: submitted; inference-result writes the sources when the result arrives.
        if (results[i] === undefined) return;
        if (await writeTagged(store, manifest, row.source, results[i])) metrics.addMetric('TextsTagged', MetricUnit.Count, 1);
      }),
    );
  }

  private async recordError(change: S3Change, vendor: string, productId: string, error: PermanentError): Promise<void> {
    this.deps.logger.warn('product.json refused', { key: change.key, code: error.code, error: describeError(error) });
    this.deps.metrics.addMetric('TextErrors', MetricUnit.Count, 1);
    if (await this.deps.store.completeSource(textRef(vendor, productId), change.order, { status: 'error', error: { code: error.code, message: error.message } }, change.key)) {
      await this.deps.store.removeSource(rulesRef(vendor, productId), change.order, change.key);
    }
  }
}
