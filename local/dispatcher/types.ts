import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { QueueName } from '../../functions/shared/layout.js';
import type { DeliveryAttempt } from './deadLetterStore.js';

/**
 * The local queues: the two S3 notifications feed (`image`, `text`) and, like the re-tag queues
 * of the AWS stack, one re-tag queue per modality into the same handler (`image-retag`, `text-retag`).
 */
export type LocalQueueName = QueueName | `${QueueName}-retag`;

/** The shape of the Lambda handlers the dispatcher feeds (a middy-wrapped handler fits too). */
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void | undefined>;

export interface QueueConfig {
  handler: SqsHandler;
  /** Lambda's SQS event source BatchSize. */
  batchSize: number;
  /** Lambda's MaximumBatchingWindowInSeconds, in ms: wait this long for a batch to fill. */
  batchWindowMs: number;
  /** Batches of this queue handled at once (Lambda's maximum concurrency). */
  concurrency: number;
  /** Lambda's timeout: a batch still running after this is failed as a whole. */
  timeoutMs: number;
}

export interface QueuedMessage {
  messageId: string;
  queue: string;
  body: string;
  sentAt: number;
  firstReceivedAt?: number;
  receiveCount: number;
  /** Epoch ms when the message may be received again (SQS visibility). */
  visibleAt: number;
  attempts: DeliveryAttempt[];
}
