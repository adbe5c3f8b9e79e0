/**
 * The per-message mechanism both ingest functions share, parameterized by what is specific to a
 * modality ({@link Modality}):
 *
 * key → derived (ignored) | rejected (rejection record) | other modality's key (ignored) | own key:
 *   removed → the modality's removal; created → still current? (the batch's gate) → prepare and
 *   build the model row (a PermanentError is recorded on the source and acknowledged) → model (the
 *   batch's one call, joined only once every row of the message is built) → tagged
 *   (sequencer-guarded write) → merge of every touched product.
 * A failure after the gate marks the message's started events pending and propagates, so the
 * message is retried and eventually dead-lettered; whatever the message did not join of the
 * batch it leaves, so the other messages never wait for it.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { isPermanent, type PermanentError } from '../errors.js';
import { parseKey, type ParsedKey } from '../layout.js';
import type { LoadedManifest } from '../manifest.js';
import { writeTagged, type PendingSource } from '../asyncInference/pendingSource.js';
import type { RowOutcome, SourceRow } from '../asyncInference/inferenceMode.js';
import type { SourceRef } from '../products/keys.js';
import type { ProductStore } from '../products/productStore.js';
import { modelVersion, type PipelineConfig } from './config.js';
import { parseS3Notification, type S3Change } from './s3Events.js';
import { ProductSet } from './sqsBatch.js';
import { failureOf, leaveUnjoined, markPending, type BatchProgress, type IngestBatch } from './ingestBatch.js';

export type SourceKind = 'image' | 'text';

/** What the log lines call the upload of each kind. */
const SUBJECT: Record<SourceKind, string> = { image: 'image', text: 'product.json' };

/** A created upload of the modality's kind, on its way through gate, preparation and model. */
export interface IngestEvent {
  change: S3Change;
  ref: SourceRef;
}

/** The model input of a prepared event and the tagged source's attributes besides ref, seq and key. */
export interface ModelRow<I> {
  input: I;
  source: Pick<PendingSource, 'fields' | 'related'>;
}

export interface Modality<K extends SourceKind, P, I> {
  /** The key kind this ingest function handles; keys of the other kind are logged and ignored. */
  kind: K;
  /** The source an upload of this kind writes. */
  sourceRef(key: Extract<ParsedKey, { kind: K }>): SourceRef;
  /** Tombstones the source of a removed upload (and whatever hangs off it). */
  remove(change: S3Change, ref: SourceRef): Promise<void>;
  /** Fetches and prepares the model input; a PermanentError is recorded on the source. */
  prepare(event: IngestEvent): Promise<P>;
  /** The model row of a prepared event; its errors count as the event's preparation errors. */
  row(event: IngestEvent, prepared: P): ModelRow<I>;
  /** Records a PermanentError on the source (logged and counted by the modality). */
  recordError(event: IngestEvent, error: PermanentError): Promise<void>;
  /** Metric counted once per source tagged. */
  taggedMetric: string;
}

export interface IngestStepDeps {
  manifest: LoadedManifest;
  store: ProductStore;
  logger: Logger;
  metrics: Metrics;
}

/** What the modality parts of an ingest function need as well: configuration and S3. */
export interface IngestDeps extends IngestStepDeps {
  config: PipelineConfig;
  s3: S3Client;
}

export class IngestStep<K extends SourceKind, P, I> {
  constructor(
    private readonly deps: IngestStepDeps,
    private readonly modality: Modality<K, P, I>,
  ) {}

  /**
   * Processes one SQS message; `batch` (gate, model call, merges) is shared by all messages of the
   * batch. `attempt` is the message's delivery count (SQS ApproximateReceiveCount), recorded with
   * the error on the sources a failure leaves pending.
   */
  async handleMessage(body: string, batch: IngestBatch<I>, attempt?: number): Promise<void> {
    const progress: BatchProgress = { gated: false, modelled: false, merging: false };
    /** Events past the gate whose result is not written yet: marked pending if this message fails. */
    let started: IngestEvent[] = [];
    try {
      const changes = parseS3Notification(body);
      const touched = new ProductSet();
      const created: IngestEvent[] = [];
      for (const change of changes) {
        const item = await this.route(change, touched);
        if (item) created.push(item);
      }
      progress.gated = true;
      // A re-tag event is current only for a source not tagged at this function's model version.
      const retag = { modelVersion: modelVersion(this.deps.manifest) };
      const current = await batch.gate.submit(created.map((c) => ({ ref: c.ref, seq: c.change.order, ...(c.change.retag ? { retag } : {}) })));
      const claimed: { event: IngestEvent; row: SourceRow<I> }[] = [];
      for (const [i, event] of created.entries()) {
        if (!current[i]) {
          this.deps.logger.info(
            event.change.retag ? `${SUBJECT[this.modality.kind]} re-tag skipped: tagged at this model version or superseded` : `${SUBJECT[this.modality.kind]} event already processed or superseded`,
            { key: event.change.key },
          );
          continue;
        }
        started.push(event);
        // Building the row is part of preparing: whatever fails here fails (or records) this
        // message alone, before it joins the batch's model call.
        try {
          claimed.push({ event, row: this.sourceRow(event, await this.modality.prepare(event)) });
        } catch (error) {
          if (!isPermanent(error)) throw error;
          await this.modality.recordError(event, error);
        }
      }
      await this.tag(claimed, batch, progress);
      started = [];
      progress.merging = true;
      await batch.merges.merge(touched.values());
    } catch (error) {
      await markPending(this.deps.store, started, failureOf(error, attempt));
      throw error;
    } finally {
      leaveUnjoined(batch, progress);
    }
  }

  private async route(change: S3Change, touched: ProductSet): Promise<IngestEvent | undefined> {
    const { logger, metrics, store } = this.deps;
    const { kind } = this.modality;
    const parsed = parseKey(change.key);
    switch (parsed.kind) {
      case 'derived':
        return undefined;
      case 'rejected':
        if (change.action === 'created') {
          await store.recordRejection({ key: change.key, bucket: change.bucket, code: 'outside_layout', reason: parsed.reason, eventTime: change.eventTime });
          metrics.addMetric('Rejections', MetricUnit.Count, 1);
          logger.warn('upload rejected', { key: change.key, reason: parsed.reason });
        }
        return undefined;
      default: {
        if (parsed.kind !== kind) {
          logger.warn(`${SUBJECT[parsed.kind]} delivered to ${kind}-ingest; ignored`, { key: change.key });
          return undefined;
        }
        const ref = this.modality.sourceRef(parsed as Extract<ParsedKey, { kind: K }>);
        touched.add(parsed);
        if (change.action === 'removed') {
          await this.modality.remove(change, ref);
          return undefined;
        }
        return { change, ref };
      }
    }
  }

  private sourceRow(event: IngestEvent, prepared: P): SourceRow<I> {
    const { input, source } = this.modality.row(event, prepared);
    return { input, source: { ref: event.ref, seq: event.change.order, key: event.change.key, ...source, ...(event.change.retag ? { retag: true as const } : {}) } };
  }

  private async tag(claimed: { event: IngestEvent; row: SourceRow<I> }[], batch: IngestBatch<I>, progress: BatchProgress): Promise<void> {
    const { store, manifest, metrics } = this.deps;
    const rows = claimed.map(({ row }) => row);
    let results: RowOutcome[];
    try {
      // Joined only here, with every row built: a message that fails before this leaves the call.
      progress.modelled = true;
      results = await batch.model.submit(rows);
    } catch (error) {
      if (!isPermanent(error)) throw error;
      for (const { event } of claimed) await this.modality.recordError(event, error);
      return;
    }
    await Promise.all(
      rows.map(async (row, i) => {
        // Async inference: submitted; inference-result writes the source when the result arrives.
        if (results[i] === undefined) return;
        if (await writeTagged(store, manifest, row.source, results[i])) metrics.addMetric(this.modality.taggedMetric, MetricUnit.Count, 1);
      }),
    );
  }
}
