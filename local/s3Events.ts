/**
 * The notifications the local S3 sends, shaped as S3's: s3rver's own events differ in ways that
 * matter to the handlers (keys not URL-encoded, a millisecond-clock sequencer with ties, nothing
 * for multi-object deletes, and they fire after the store has written, outside its commit), so the
 * local store (s3AtomicStore.ts) reports each change it commits and these helpers build the record.
 */
import type { S3EventRecord } from 'aws-lambda';
import { encodeS3Key } from '../functions/shared/layout.js';

/**
 * S3 form-encodes keys in notifications (Java URLEncoder style: space → `+`, `/` kept), so
 * `my shirt (1).jpg` arrives as `my+shirt+%281%29.jpg` (functions/shared/layout.ts).
 */
export const encodeS3EventKey = encodeS3Key;

export interface CreatedObject {
  bucket: string;
  key: string;
  /** `ObjectCreated:Put`, `:Post`, `:Copy` or `:CompleteMultipartUpload`. */
  eventName: string;
  size: number;
  eTag: string;
}

const baseRecord = (bucket: string, region: string, eventName: string): Omit<S3EventRecord, 's3'> & { s3: Omit<S3EventRecord['s3'], 'object'> } => ({
  eventVersion: '2.1',
  eventSource: 'aws:s3',
  awsRegion: region,
  eventTime: new Date().toISOString(),
  eventName,
  userIdentity: { principalId: 'AWS:LOCAL' },
  requestParameters: { sourceIPAddress: '127.0.0.1' },
  responseElements: { 'x-amz-request-id': 'LOCAL', 'x-amz-id-2': 'LOCAL' },
  s3: {
    s3SchemaVersion: '1.0',
    configurationId: 'weft-local',
    bucket: { name: bucket, ownerIdentity: { principalId: 'LOCAL' }, arn: `arn:aws:s3:::${bucket}` },
  },
});

/** The notification S3 sends for a stored object (the sequencer comes from the caller's SequencerClock). */
export const createdRecord = (object: CreatedObject, region: string, sequencer: string): S3EventRecord => {
  const base = baseRecord(object.bucket, region, object.eventName);
  return { ...base, s3: { ...base.s3, object: { key: encodeS3EventKey(object.key), size: object.size, eTag: object.eTag, sequencer } } };
};

export const deleteRecord = (bucket: string, key: string, region: string, sequencer: string): S3EventRecord => {
  const base = baseRecord(bucket, region, 'ObjectRemoved:Delete');
  // S3 sends neither size nor eTag for deletions.
  return { ...base, s3: { ...base.s3, object: { key: encodeS3EventKey(key), sequencer } as S3EventRecord['s3']['object'] } };
};
