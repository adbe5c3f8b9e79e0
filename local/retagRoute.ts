/**
 * `POST /local/retag`: one batch of a local re-tag (`weft retag`, which walks the local bucket and
 * posts its keys batch by batch). The body is what the re-tag job's ItemBatcher hands its child
 * workflow on AWS (`{"Items": [{"key": …}], "BatchInput": {"filters": {…}}}`), and the answer is
 * that child's result: the same `runRetagBatch`, reading the local table and sending to the local
 * re-tag queues (`image-retag`, `text-retag`), which feed the same handlers as the notification
 * queues. State-changing, so like the other such /local routes it needs a JSON request.
 */
import type { LocalRoute } from './apiServer.js';
import type { LocalQueueName } from './dispatcher/types.js';
import type { RetagModality } from '../functions/shared/retag/filters.js';
import { RetagFilterError } from '../functions/shared/retag/filters.js';
import { runRetagBatch, type RetagBatchDeps, type RetagBatchInput } from '../functions/shared/retag/retagBatch.js';

export const RETAG_QUEUES: Readonly<Record<RetagModality, LocalQueueName>> = { image: 'image-retag', text: 'text-retag' };

/** Keys one request may carry (the job's ItemBatcher takes at most 10,000 too). */
export const MAX_RETAG_BATCH = 10_000;

export interface RetagRouteOptions {
  /** Journals one message on a local queue (the dispatcher's `send`). */
  send(queue: LocalQueueName, body: string): string;
  readRecords: RetagBatchDeps['readRecords'];
  deployed: RetagBatchDeps['deployed'];
  bucket: string;
}

const badRequest = (message: string) => ({ status: 400, body: { message } });

const parseInput = (body: Buffer): RetagBatchInput | string => {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return 'the body is not JSON';
  }
  const input = json as Partial<RetagBatchInput> | null;
  if (typeof input !== 'object' || input === null || !Array.isArray(input.Items)) return 'expected {"Items": [{"key": "…"}], "BatchInput": {"filters": {…}}}';
  if (input.Items.length > MAX_RETAG_BATCH) return `at most ${MAX_RETAG_BATCH} items per batch`;
  if (!input.Items.every((item) => typeof item === 'object' && item !== null && typeof (item as { key?: unknown }).key === 'string')) return 'every item needs a string "key"';
  const batchInput = input.BatchInput ?? {};
  if (typeof batchInput !== 'object' || batchInput === null) return '"BatchInput" must be an object';
  return { Items: input.Items.map((item) => ({ key: item.key })), BatchInput: batchInput };
};

export const retagRoute = (opts: RetagRouteOptions): LocalRoute => async (method, path, _query, body) => {
  if (path !== '/local/retag') return undefined;
  if (method !== 'POST') return { status: 405, body: { message: `${method} /local/retag: only POST` } };
  const input = parseInput(body);
  if (typeof input === 'string') return badRequest(input);
  try {
    const result = await runRetagBatch(
      {
        readRecords: opts.readRecords,
        // send() journals each message before it returns, as S3's notifications are.
        send: async (kind, bodies) => {
          for (const message of bodies) opts.send(RETAG_QUEUES[kind], message);
        },
        deployed: opts.deployed,
        bucket: opts.bucket,
      },
      input,
    );
    return { status: 200, body: result };
  } catch (error) {
    if (error instanceof RetagFilterError) return badRequest(error.message);
    throw error;
  }
};
