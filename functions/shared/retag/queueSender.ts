/**
 * Sends re-tag notifications to an SQS queue, ten per SendMessageBatch. Entries SQS reports as
 * failed for its own reasons (throttling, an internal error) are sent again, a few times with
 * backoff; anything still unsent then fails the call, so the batch step fails and is retried as a
 * whole (re-sending what did arrive is harmless: the ingest functions take one re-tag per source).
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { TransientError } from '../errors.js';
import { chunks } from './batching.js';

const MAX_ATTEMPTS = 4;
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const sendToQueue = async (sqs: SQSClient, queueUrl: string, bodies: readonly string[], backoffMs = 100): Promise<void> => {
  for (const chunk of chunks(bodies, 10)) {
    let entries = chunk.map((body, i) => ({ Id: String(i), MessageBody: body }));
    for (let attempt = 1; entries.length > 0; attempt += 1) {
      if (attempt > 1) await delay(backoffMs * 2 ** (attempt - 2));
      const reply = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      const failed = reply.Failed ?? [];
      const senderFault = failed.find((f) => f.SenderFault);
      // A message SQS refuses as malformed would be refused again.
      if (senderFault) throw new Error(`SQS refused a re-tag message for ${queueUrl}: ${senderFault.Code ?? ''} ${senderFault.Message ?? ''}`.trim());
      const retry = new Set(failed.map((f) => f.Id));
      entries = entries.filter((e) => retry.has(e.Id));
      if (entries.length > 0 && attempt >= MAX_ATTEMPTS) {
        throw new TransientError('retag_send_failed', `${entries.length} re-tag messages could not be sent to ${queueUrl}: ${failed.map((f) => f.Code).join(', ')}`);
      }
    }
  }
};
