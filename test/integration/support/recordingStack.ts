/**
 * A whole local stack in its own process, for tests that stop or kill it as a person or a crash
 * would: the real s3rver, dynalite, dispatcher and API server, with handlers that append every
 * key they are handed to $RECORDING_FILE (one `key<TAB>eTag` line each, synchronously, so what a
 * kill interrupts was never recorded) and acknowledge it, except keys listed in $FAIL_KEYS
 * (comma-separated), which they report as failed. Prints `READY {urls}` once serving;
 * SIGTERM stops it the way `npm start` does (stack.stop(), then exit 0).
 *
 *   WEFT_HOME=... RECORDING_FILE=... node --import tsx test/integration/support/recordingStack.ts
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { decodeS3Key } from '../../../functions/shared/layout.js';
import { startStack } from '../../../local/stack.js';

const home = process.env.WEFT_HOME;
const recording = process.env.RECORDING_FILE;
if (!home || !recording) throw new Error('WEFT_HOME and RECORDING_FILE are required');

const failKeys = new Set((process.env.FAIL_KEYS ?? '').split(',').filter(Boolean));

const record = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const lines: string[] = [];
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  for (const message of event.Records) {
    const body = JSON.parse(message.body) as { Records: { eventName: string; s3: { object: { key: string; eTag?: string } } }[] };
    for (const r of body.Records) {
      const key = decodeS3Key(r.s3.object.key);
      lines.push(`${r.eventName}\t${key}\t${r.s3.object.eTag ?? ''}\n`);
      if (failKeys.has(key)) failures.push({ itemIdentifier: message.messageId });
    }
  }
  appendFileSync(recording, lines.join(''));
  return { batchItemFailures: failures };
};

const modelsDir = join(home, 'no-models');
mkdirSync(modelsDir, { recursive: true });
const stack = await startStack({
  home,
  modelsDir,
  quiet: true,
  delivery: { batchWindowMs: 20, backoffMs: 50, maxBackoffMs: 200 },
  handlers: { image: record, text: record, api: async () => ({ statusCode: 200, body: '{}' }) },
});
// Before READY: a SIGTERM sent the moment READY arrives must find the handler in place.
process.once('SIGTERM', () => {
  stack.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`stop failed: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
});
process.stdout.write(`READY ${JSON.stringify(stack.urls)}\n`);
