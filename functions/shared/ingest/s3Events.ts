/**
 * S3 event notifications as they arrive in SQS message bodies. Validation is deliberately
 * lenient about fields we do not use (s3rver and AWS differ in details such as source IPs) and
 * strict about the ones we do.
 */
import { z } from 'zod';
import { decodeS3Key } from '../layout.js';
import { normalizeSequencer, sequencerFromTime } from '../products/keys.js';
import { RETAG_EVENT_SOURCE } from '../retag/selection.js';

const S3RecordSchema = z.object({
  eventSource: z.string().optional(),
  eventName: z.string(),
  eventTime: z.string(),
  s3: z.object({
    bucket: z.object({ name: z.string() }),
    object: z.object({
      key: z.string(),
      size: z.number().optional(),
      sequencer: z.union([z.string(), z.number()]).optional(),
    }),
  }),
});

const NotificationSchema = z.object({ Records: z.array(S3RecordSchema) });

/** Sent once when a notification configuration is created; carries no object. */
const isTestEvent = (json: unknown): boolean =>
  typeof json === 'object' && json !== null && (json as { Event?: unknown }).Event === 's3:TestEvent';

export type S3Action = 'created' | 'removed';

export interface S3Change {
  action: S3Action;
  eventName: string;
  eventTime: string;
  bucket: string;
  /** Decoded object key (S3 URL-encodes keys in notifications, `+` for spaces). */
  key: string;
  size?: number;
  /** Fixed-width ordering token of this event for its key (see products/keys.ts). */
  order: string;
  /**
   * A re-tag of the object as it is (functions/shared/retag/selection.ts), not a new upload: its
   * `order` is the sequencer the source was last written with, and only a source not tagged at
   * the deployed model version takes it.
   */
  retag?: true;
}

export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError';
}

const actionOf = (eventName: string): S3Action | undefined => {
  const name = eventName.replace(/^s3:/, '');
  if (name.startsWith('ObjectCreated:')) return 'created';
  if (name.startsWith('ObjectRemoved:') || name.startsWith('LifecycleExpiration:')) return 'removed';
  return undefined;
};

/**
 * Parses one SQS message body. Returns the object changes it describes; test events and event
 * types the pipeline does not act on (restores, tagging...) yield none. A body that is not an S3
 * notification at all throws MalformedMessageError.
 */
export const parseS3Notification = (body: string): S3Change[] => {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new MalformedMessageError('message body is not JSON');
  }
  if (isTestEvent(json)) return [];
  const parsed = NotificationSchema.safeParse(json);
  if (!parsed.success) throw new MalformedMessageError(`message body is not an S3 event notification: ${parsed.error.issues[0]?.message ?? ''}`);
  return parsed.data.Records.flatMap((record): S3Change[] => {
    const action = actionOf(record.eventName);
    if (action === undefined) return [];
    const { sequencer, size, key } = record.s3.object;
    const order = sequencer !== undefined && String(sequencer) !== '' ? normalizeSequencer(String(sequencer)) : sequencerFromTime(record.eventTime);
    return [
      {
        action,
        eventName: record.eventName,
        eventTime: record.eventTime,
        bucket: record.s3.bucket.name,
        key: decodeS3Key(key),
        ...(size !== undefined ? { size } : {}),
        order,
        ...(record.eventSource === RETAG_EVENT_SOURCE && action === 'created' ? { retag: true as const } : {}),
      },
    ];
  });
};
