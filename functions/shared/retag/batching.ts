/**
 * Batching for the re-tag: keys are checked against the table in batches (the re-tag job's
 * ItemBatcher on AWS, `batches` locally), and each batch's messages are sent ten at a time
 * (SQS SendMessageBatch's limit, `chunks`).
 */

/** Consecutive groups of at most `size` items of an (async) iterable, the last one possibly shorter. */
export async function* batches<T>(items: AsyncIterable<T> | Iterable<T>, size: number): AsyncGenerator<T[]> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size must be a positive integer, got ${size}`);
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

export const chunks = <T>(items: readonly T[], size: number): T[][] => {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};
