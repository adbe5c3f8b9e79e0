/**
 * SQS batch plumbing shared by the ingest functions: Powertools' partial batch response, with a
 * fully failed batch reported item by item (never thrown), so Lambda and the local dispatcher see
 * the same `batchItemFailures` shape.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { channel } from 'node:diagnostics_channel';
import { describeError } from '../errors.js';

/**
 * SQS dead-letters the message body only; the local dispatcher listens here so its dead letters
 * carry the error too. Publishing without a subscriber (as in Lambda) costs nothing.
 */
const recordFailed = channel('weft:sqs:recordFailed');

export const processSqsBatch = async (
  event: SQSEvent,
  context: Context | undefined,
  logger: Logger,
  handleRecord: (record: SQSRecord) => Promise<void>,
): Promise<SQSBatchResponse> => {
  const processor = new BatchProcessor(EventType.SQS);
  const logged = async (record: SQSRecord): Promise<void> => {
    try {
      await handleRecord(record);
    } catch (error) {
      // Returned to SQS for retry (then the DLQ); the reason must not be lost on the way.
      logger.error('message failed; will be retried', {
        messageId: record.messageId,
        receiveCount: record.attributes?.ApproximateReceiveCount,
        error: describeError(error),
        errorName: error instanceof Error ? error.name : typeof error,
      });
      if (recordFailed.hasSubscribers) recordFailed.publish({ messageId: record.messageId, error: describeError(error) });
      throw error;
    }
  };
  const response = await processPartialResponse(event, logged, processor, {
    ...(context ? { context } : {}),
    throwOnFullBatchFailure: false,
  });
  return { batchItemFailures: response.batchItemFailures };
};

/** Which delivery of the message this is (SQS ApproximateReceiveCount: 1 on the first). */
export const receiveCount = (record: SQSRecord): number | undefined => {
  const count = Number(record.attributes?.ApproximateReceiveCount);
  return Number.isInteger(count) && count > 0 ? count : undefined;
};

export interface ProductRef {
  vendor: string;
  productId: string;
}

/** Distinct products touched by a message, merged once each. */
export class ProductSet {
  private readonly products = new Map<string, ProductRef>();
  add(ref: ProductRef): void {
    this.products.set(`${ref.vendor}/${ref.productId}`, { vendor: ref.vendor, productId: ref.productId });
  }
  values(): ProductRef[] {
    return [...this.products.values()];
  }
}
