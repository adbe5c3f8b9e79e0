/**
 * image-ingest, without Lambda: one SQS message (an S3 notification) at a time, sharing with the
 * rest of its batch one source-state read, one image model call and one merge per product
 * (IngestBatch).
 *
 * created image → still current? (the batch's one BatchGetItem; stale or finished events stop
 *   here) → fetch (size-capped) → prepareViews → both views as PNG under derived/ → model (whole
 *   batch at once) → tagged (sequencer-guarded write) → merge; a failure marks it pending for the retry
 * removed image → tombstone the source, drop its derived views → merge
 * key outside the layout → rejection record
 * A PermanentError is recorded on the image and acknowledged; anything else propagates so the
 * message is retried and eventually dead-lettered.
 */
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { PermanentError, describeError, isPermanent } from '../shared/errors.js';
import { derivedViewKey, parseKey } from '../shared/layout.js';
import type { LoadedManifest } from '../shared/manifest.js';
import { prepareViews, viewToPng, type PreparedViews } from '../shared/image/prepareViews.js';
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

export const VIEW_NAMES = ['downsampled', 'center'] as const;

export interface ImageIngestDeps {
  config: PipelineConfig;
  manifest: LoadedManifest;
  s3: S3Client;
  store: ProductStore;
  logger: Logger;
  metrics: Metrics;
  /** Runs `fn` under the per-invocation decode concurrency limit. */
  limit: <T>(fn: () => Promise<T>) => Promise<T>;
}

interface Created {
  change: S3Change;
  ref: SourceRef;
}

interface Claimed extends Created {
  views: PreparedViews;
}

/**
 * Relative say of an image among the product's images: a source smaller than the model's view is
 * upscaled and blurry, so it counts less (down to a quarter); anything at least view-sized counts fully.
 */
export const imageWeight = (source: { width: number; height: number }, viewSize: number): number =>
  Math.round(Math.min(1, Math.max(0.25, Math.min(source.width, source.height) / viewSize)) * 1000) / 1000;

export class ImageIngest {
  constructor(private readonly deps: ImageIngestDeps) {}

  /** Processes one SQS message; `batch` (gate, model call, merges) is shared by all messages of the batch. */
  async handleMessage(body: string, batch: IngestBatch<PreparedViews>): Promise<void> {
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
          this.deps.logger.info('image event already processed or superseded', { key: c.change.key });
          continue;
        }
        started.push(c);
        try {
          claimed.push({ ...c, views: await this.deps.limit(() => this.prepare(c.change)) });
        } catch (error) {
          if (!isPermanent(error)) throw error;
          await this.recordError(c.change, c.ref, error);
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
      case 'text':
        logger.warn('product.json delivered to image-ingest; ignored', { key: change.key });
        return undefined;
      case 'image': {
        const ref: SourceRef = { vendor: parsed.vendor, productId: parsed.productId, kind: 'image', name: parsed.name };
        touched.add(parsed);
        if (change.action === 'removed') {
          await this.remove(change, ref);
          return undefined;
        }
        return { change, ref };
      }
    }
  }

  private async prepare(change: S3Change): Promise<PreparedViews> {
    const { config, manifest, s3 } = this.deps;
    if (change.size !== undefined && change.size > config.maxObjectBytes) throw tooLarge(change.size, config.maxObjectBytes);
    const bytes = await readObject(s3, change.bucket, change.key, config.maxObjectBytes);
    const image = manifest.preprocessing.image!;
    const views = await prepareViews(bytes, {
      viewSize: image.viewSize,
      centerCropFraction: image.centerCropFraction,
      background: image.background,
      maxInputPixels: config.maxInputPixels,
      maxInputBytes: config.maxObjectBytes,
    });
    await Promise.all(
      VIEW_NAMES.map(async (view) =>
        s3.send(
          new PutObjectCommand({
            Bucket: change.bucket,
            Key: derivedViewKey(change.key, view),
            Body: await viewToPng(views[view], image.viewSize),
            ContentType: 'image/png',
          }),
        ),
      ),
    );
    return views;
  }

  private async tag(claimed: Claimed[], collector: BatchCollector<SourceRow<PreparedViews>, RowOutcome>): Promise<void> {
    const { store, manifest, metrics } = this.deps;
    const rows: SourceRow<PreparedViews>[] = claimed.map((c) => ({
      input: c.views,
      source: { ref: c.ref, seq: c.change.order, key: c.change.key, fields: { weight: imageWeight(c.views.source, manifest.preprocessing.image!.viewSize) } },
    }));
    let results: RowOutcome[];
    try {
      results = await collector.submit(rows);
    } catch (error) {
      if (!isPermanent(error)) throw error;
      for (const c of claimed) await this.recordError(c.change, c.ref, error);
      return;
    }
    await Promise.all(
      rows.map(async (row, i) => {
        // Async inference: submitted; inference-result writes the source when the result arrives.
        if (results[i] === undefined) return;
        if (await writeTagged(store, manifest, row.source, results[i])) metrics.addMetric('ImagesTagged', MetricUnit.Count, 1);
      }),
    );
  }

  private async recordError(change: S3Change, ref: SourceRef, error: PermanentError): Promise<void> {
    this.deps.logger.warn('image refused', { key: change.key, code: error.code, error: describeError(error) });
    this.deps.metrics.addMetric('ImageErrors', MetricUnit.Count, 1);
    await this.deps.store.completeSource(ref, change.order, { status: 'error', error: { code: error.code, message: error.message } }, change.key);
  }

  private async remove(change: S3Change, ref: SourceRef): Promise<void> {
    if (!(await this.deps.store.removeSource(ref, change.order, change.key))) return;
    await Promise.all(VIEW_NAMES.map((view) => this.deps.s3.send(new DeleteObjectCommand({ Bucket: change.bucket, Key: derivedViewKey(change.key, view) }))));
  }
}
