/**
 * image-ingest, without Lambda: what is specific to images in the shared per-message mechanism
 * (IngestStep), which shares with the rest of the batch one source-state read, one image model
 * call and one merge per product (IngestBatch).
 *
 * created image → still current? (the batch's one BatchGetItem; stale or finished events stop
 *   here) → fetch (size-capped) → decode once → whole and center views → with a garment view
 *   declared: the detector (one real-time call with the whole view) → garment view → every
 *   declared view as PNG under derived/ → model (whole batch at once, every view in manifest
 *   order) → tagged with its box (sequencer-guarded write) → merge; a failure marks it pending for the retry
 * removed image → tombstone the source, drop its derived views → merge
 * The detector runs per image while it is prepared, so its failure fails only that image's
 * message, like a decode failure, and never the batch's model call.
 * key outside the layout → rejection record
 * A PermanentError is recorded on the image and acknowledged; anything else propagates so the
 * message is retried and eventually dead-lettered.
 */
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { describeError, type PermanentError } from '../shared/errors.js';
import { derivedViewKey } from '../shared/layout.js';
import { prepareDeclaredViews, type ViewDetector } from '../shared/image/declaredViews.js';
import { viewToPng, type ImageViews, type PrepareViewsOptions } from '../shared/image/prepareViews.js';
import type { SourceRef } from '../shared/products/keys.js';
import type { S3Change } from '../shared/ingest/s3Events.js';
import { readObject, tooLarge } from '../shared/ingest/readObject.js';
import type { IngestBatch } from '../shared/ingest/ingestBatch.js';
import { IngestStep, type IngestDeps, type IngestEvent } from '../shared/ingest/ingestStep.js';

export interface ImageIngestDeps extends IngestDeps {
  /** Runs `fn` under the per-invocation decode concurrency limit. */
  limit: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The garment detector; required when the image manifest declares a garment view. */
  detector?: ViewDetector;
}

/**
 * Relative say of an image among the product's images: a source smaller than the model's view is
 * upscaled and blurry, so it counts less (down to a quarter); anything at least view-sized counts fully.
 */
export const imageWeight = (source: { width: number; height: number }, viewSize: number): number =>
  Math.round(Math.min(1, Math.max(0.25, Math.min(source.width, source.height) / viewSize)) * 1000) / 1000;

export class ImageIngest {
  private readonly step: IngestStep<'image', ImageViews, ImageViews>;

  constructor(private readonly deps: ImageIngestDeps) {
    this.step = new IngestStep(deps, {
      kind: 'image',
      sourceRef: ({ vendor, productId, name }) => ({ vendor, productId, kind: 'image', name }),
      remove: (change, ref) => this.remove(change, ref),
      prepare: ({ change }) => deps.limit(() => this.prepare(change)),
      row: (_event, views) => ({
        input: views,
        source: {
          fields: {
            weight: imageWeight(views.source, deps.manifest.preprocessing.image!.viewSize),
            views: Object.keys(views.views),
            ...(views.box ? { box: views.box } : {}),
          },
        },
      }),
      recordError: (event, error) => this.recordError(event, error),
      taggedMetric: 'ImagesTagged',
    });
  }

  /** Processes one SQS message (delivery `attempt`); `batch` (gate, model call, merges) is shared by all messages of the batch. */
  handleMessage(body: string, batch: IngestBatch<ImageViews>, attempt?: number): Promise<void> {
    return this.step.handleMessage(body, batch, attempt);
  }

  private async prepare(change: S3Change): Promise<ImageViews> {
    const { config, manifest, s3 } = this.deps;
    if (change.size !== undefined && change.size > config.maxObjectBytes) throw tooLarge(change.size, config.maxObjectBytes);
    const bytes = await readObject(s3, change.bucket, change.key, config.maxObjectBytes);
    const image = manifest.preprocessing.image!;
    const opts: PrepareViewsOptions = {
      viewSize: image.viewSize,
      centerCropFraction: image.centerCropFraction,
      background: image.background,
      maxInputPixels: config.maxInputPixels,
      maxInputBytes: config.maxObjectBytes,
    };
    if (image.views.some((v) => v.kind === 'garment') && !this.deps.detector) throw new Error(`image model ${manifest.name} declares garment views but image-ingest has no detector`);
    const prepared = await prepareDeclaredViews(bytes, image, opts, this.deps.detector);
    const { views } = prepared;
    await Promise.all(
      Object.entries(views).map(async ([name, view]) =>
        s3.send(
          new PutObjectCommand({
            Bucket: change.bucket,
            Key: derivedViewKey(change.key, name),
            Body: await viewToPng(view, image.viewSize),
            ContentType: 'image/png',
          }),
        ),
      ),
    );
    return prepared;
  }

  private async recordError({ change, ref }: IngestEvent, error: PermanentError): Promise<void> {
    this.deps.logger.warn('image refused', { key: change.key, code: error.code, error: describeError(error) });
    this.deps.metrics.addMetric('ImageErrors', MetricUnit.Count, 1);
    await this.deps.store.completeSource(ref, change.order, { status: 'error', error: { code: error.code, message: error.message } }, change.key);
  }

  private async remove(change: S3Change, ref: SourceRef): Promise<void> {
    if (!(await this.deps.store.removeSource(ref, change.order, change.key))) return;
    // The views the manifest declares; deleting one that was never written is a no-op.
    const views = this.deps.manifest.preprocessing.image!.views.map((v) => v.name);
    await Promise.all(views.map((view) => this.deps.s3.send(new DeleteObjectCommand({ Bucket: change.bucket, Key: derivedViewKey(change.key, view) }))));
  }
}
