/**
 * Which sources a re-tag sends again, and the guard that keeps a re-tag from counting a source
 * twice. Pure: the re-tag batch step (functions/retag-batch on AWS, the local /local/retag route)
 * decides with `sourceState` against the table and the deployed manifests; the ingest functions'
 * gate decides again with `retagApplies`, and the source write's condition once more (ProductStore).
 *
 * A re-tag message is an ordinary S3 notification (same batch contract, same handlers) whose
 * record says `eventSource: "weft:retag"` and whose sequencer is the one the source was last
 * written with. An ordinary event is current only when its sequencer is newer than the source's
 * (or the same one still pending); a re-tag event is current only when it carries the source's own
 * sequencer and the source is not tagged at the deployed model version. So:
 *   - a re-tag of a source already tagged by the same upload at the deployed version writes nothing
 *     (and a redelivered or repeated re-tag message finds it so);
 *   - a newer upload that arrives meanwhile wins: the source's sequencer moves on and the re-tag's
 *     no longer matches;
 *   - an object with no source at all is re-tagged under RECONCILE_SEQUENCER, the lowest possible
 *     one, so its own notification, should it still arrive, is newer and is processed as usual.
 */
import { encodeS3Key } from '../layout.js';
import { SEQUENCER_WIDTH } from '../products/keys.js';
import type { RetagFilters } from './filters.js';

/** What a source item records that the re-tag decides on (the gate's projection of it). */
export interface SourceRecord {
  seq?: string;
  status?: string;
  modelVersion?: string;
}

/**
 * - `missing`: no source item (the object was never ingested, or its notification was lost);
 * - `stale`: tagged with another model version than the deployed one;
 * - `failed`: its last outcome is an error (refused input, or async inference that failed);
 * - `pending`: waiting for a retry or an async result (or dead-lettered);
 * - `current`: tagged at the deployed version;
 * - `deleted`: tombstoned — the table says the object was deleted; its newer upload's own
 *   notification tags it (never the re-tag, which could resurrect an object deleted meanwhile).
 */
export type SourceState = 'missing' | 'stale' | 'failed' | 'pending' | 'current' | 'deleted';

export const SOURCE_STATES: readonly SourceState[] = ['missing', 'stale', 'failed', 'pending', 'current', 'deleted'];

/** The sequencer a reconciliation re-tag writes a missing source with: below every real S3 sequencer. */
export const RECONCILE_SEQUENCER = '0'.repeat(SEQUENCER_WIDTH);

/** `eventSource` of a re-tag record (S3's own records say `aws:s3`). */
export const RETAG_EVENT_SOURCE = 'weft:retag';
export const RETAG_EVENT_NAME = 'ObjectCreated:Retag';

export const sourceState = (record: SourceRecord | undefined, deployedVersion: string): SourceState => {
  if (record?.seq === undefined) return 'missing';
  switch (record.status) {
    case 'deleted':
      return 'deleted';
    case 'error':
      return 'failed';
    case 'pending':
      return 'pending';
    default:
      return record.modelVersion === deployedVersion ? 'current' : 'stale';
  }
};

/** Whether a re-tag with these filters sends a source in this state. */
export const wantsState = (state: SourceState, filters: Pick<RetagFilters, 'staleOnly' | 'missingOnly'>): boolean => {
  if (filters.missingOnly) return state === 'missing';
  if (filters.staleOnly) return state === 'stale';
  return state !== 'current' && state !== 'deleted';
};

/**
 * The ingest gate's decision for a re-tag event carrying sequencer `seq`, for a function whose
 * manifest is `deployedVersion`: the same rule as ProductStore's re-tag write condition.
 */
export const retagApplies = (record: SourceRecord | undefined, seq: string, deployedVersion: string): boolean => {
  if (record?.seq === undefined) return seq === RECONCILE_SEQUENCER;
  return record.seq === seq && record.status !== 'deleted' && record.modelVersion !== deployedVersion;
};

/** The sequencer a re-tag of a source in this record is sent with. */
export const retagSequencer = (record: SourceRecord | undefined): string => record?.seq ?? RECONCILE_SEQUENCER;

/** One re-tag message body: an S3 notification of one record, as the ingest queues carry them. */
export const retagNotification = (opts: { bucket: string; key: string; sequencer: string; eventTime: string }): string =>
  JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: RETAG_EVENT_SOURCE,
        eventTime: opts.eventTime,
        eventName: RETAG_EVENT_NAME,
        s3: { s3SchemaVersion: '1.0', bucket: { name: opts.bucket }, object: { key: encodeS3Key(opts.key), sequencer: opts.sequencer } },
      },
    ],
  });
