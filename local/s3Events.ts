/**
 * s3rver's notifications are AWS-shaped but differ from S3's in three ways that matter to the
 * handlers: keys are not URL-encoded, the sequencer is a millisecond clock (ties and no per-key
 * order), and multi-object deletes (DeleteObjects, used by `aws s3 rm --recursive`) emit nothing.
 * These helpers make the records the handlers see look like the ones S3 sends.
 */
import type { S3EventRecord } from 'aws-lambda';

/**
 * S3 form-encodes keys in notifications (Java URLEncoder style: space → `+`, `/` kept), so
 * `my shirt (1).jpg` arrives as `my+shirt+%281%29.jpg`.
 */
export const encodeS3EventKey = (key: string): string =>
  encodeURIComponent(key)
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
    .replace(/%2F/g, '/');

let lastSequencer = 0n;

/**
 * Sequencers only grow within a key in S3 and compare as hex strings of equal length; a counter
 * seeded from the clock keeps that property across restarts and within one millisecond.
 */
export const nextSequencer = (): string => {
  const now = BigInt(Date.now()) * 1000n;
  lastSequencer = now > lastSequencer ? now : lastSequencer + 1n;
  return lastSequencer.toString(16).toUpperCase().padStart(16, '0');
};

/** Rewrites one s3rver record into the shape S3 would have delivered. */
export const normalizeRecord = (record: S3EventRecord, region: string): S3EventRecord => ({
  ...record,
  awsRegion: region,
  s3: {
    ...record.s3,
    bucket: { ...record.s3.bucket, arn: `arn:aws:s3:::${record.s3.bucket.name}` },
    object: { ...record.s3.object, key: encodeS3EventKey(record.s3.object.key), sequencer: nextSequencer() },
  },
});

export const deleteRecord = (bucket: string, key: string, region: string): S3EventRecord => ({
  eventVersion: '2.1',
  eventSource: 'aws:s3',
  awsRegion: region,
  eventTime: new Date().toISOString(),
  eventName: 'ObjectRemoved:Delete',
  userIdentity: { principalId: 'AWS:LOCAL' },
  requestParameters: { sourceIPAddress: '127.0.0.1' },
  responseElements: { 'x-amz-request-id': 'LOCAL', 'x-amz-id-2': 'LOCAL' },
  s3: {
    s3SchemaVersion: '1.0',
    configurationId: 'weft-local',
    bucket: { name: bucket, ownerIdentity: { principalId: 'LOCAL' }, arn: `arn:aws:s3:::${bucket}` },
    // S3 sends neither size nor eTag for deletions.
    object: { key: encodeS3EventKey(key), sequencer: nextSequencer() } as S3EventRecord['s3']['object'],
  },
});
