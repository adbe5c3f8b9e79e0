/** SQS batches carrying S3 notifications, shaped as AWS delivers them (keys URL-encoded). */
import type { SQSEvent, SQSRecord } from 'aws-lambda';

let counter = 0;

export interface ObjectEvent {
  key: string;
  action?: 'created' | 'removed';
  sequencer?: string;
  size?: number;
  bucket?: string;
}

/** S3 encodes keys like a form: spaces as `+`, everything else percent-encoded. */
export const encodeKey = (key: string): string => encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');

export const s3Notification = (events: ObjectEvent[]) => ({
  Records: events.map((e) => ({
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: '2026-11-28T01:00:00.000Z',
    eventName: e.action === 'removed' ? 'ObjectRemoved:Delete' : 'ObjectCreated:Put',
    s3: {
      s3SchemaVersion: '1.0',
      bucket: { name: e.bucket ?? 'weft-uploads', arn: `arn:aws:s3:::${e.bucket ?? 'weft-uploads'}` },
      object: { key: encodeKey(e.key), ...(e.size !== undefined ? { size: e.size } : {}), sequencer: e.sequencer ?? '0055AED6DCD90281E5' },
    },
  })),
});

export const sqsRecord = (body: unknown): SQSRecord =>
  ({
    messageId: `m-${++counter}`,
    receiptHandle: `r-${counter}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:weft-images',
    awsRegion: 'us-east-1',
  }) as SQSRecord;

export const sqsEvent = (...records: SQSRecord[]): SQSEvent => ({ Records: records });
