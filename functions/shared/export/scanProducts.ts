/**
 * Every merged product item of the table, streamed: a parallel Scan (one worker per segment, each
 * holding at most one page until the consumer took it), filtered to product items server-side,
 * optionally of one vendor. The table has no index by vendor, so a vendor export scans too; the
 * filter keeps other vendors' items off the wire. Memory stays at `segments` pages whatever the
 * table's size.
 */
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ProductItem } from '../products/items.js';
import { PRODUCT_SK } from '../products/keys.js';

export interface ScanOptions {
  /** Parallel Scan segments (DynamoDB's TotalSegments); 1 reads in table order. */
  segments?: number;
  vendor?: string;
  /** Items per page request (DynamoDB's Limit, counted before the filter). */
  pageSize?: number;
  /** After each page: items DynamoDB examined for it (ScannedCount), for progress. */
  onScanned?: (scanned: number) => void;
}

interface Page {
  items: ProductItem[];
  scanned: number;
}

/** An unbuffered hand-off between segment workers and the consumer. */
class PageChannel {
  private readonly waiting: { page: Page; taken: () => void }[] = [];
  private wake: (() => void) | undefined;
  private failure: unknown;
  private open: number;

  constructor(workers: number) {
    this.open = workers;
  }

  put(page: Page): Promise<void> {
    return new Promise((taken) => {
      this.waiting.push({ page, taken });
      this.notify();
    });
  }

  done(error?: unknown): void {
    this.open -= 1;
    if (error !== undefined && this.failure === undefined) this.failure = error;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *pages(): AsyncGenerator<Page> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const next = this.waiting.shift();
      if (next) {
        next.taken();
        yield next.page;
        continue;
      }
      if (this.open === 0) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

export async function* scanProductItems(client: DynamoDBDocumentClient, tableName: string, options: ScanOptions = {}): AsyncGenerator<ProductItem> {
  const segments = options.segments ?? 4;
  if (!Number.isInteger(segments) || segments < 1 || segments > 1_000_000) throw new Error(`segments must be an integer from 1 to 1000000, got ${segments}`);
  const channel = new PageChannel(segments);
  let stopped = false;
  const filter = options.vendor === undefined ? '#sk = :product' : '#sk = :product AND #vendor = :vendor';
  const worker = async (segment: number): Promise<void> => {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({
          TableName: tableName,
          FilterExpression: filter,
          ExpressionAttributeNames: { '#sk': 'sk', ...(options.vendor === undefined ? {} : { '#vendor': 'vendor' }) },
          ExpressionAttributeValues: { ':product': PRODUCT_SK, ...(options.vendor === undefined ? {} : { ':vendor': options.vendor }) },
          ...(segments > 1 ? { Segment: segment, TotalSegments: segments } : {}),
          ...(options.pageSize ? { Limit: options.pageSize } : {}),
          ExclusiveStartKey: start,
        }),
      );
      await channel.put({ items: (page.Items ?? []) as ProductItem[], scanned: page.ScannedCount ?? 0 });
      start = page.LastEvaluatedKey;
    } while (start && !stopped);
  };
  for (let segment = 0; segment < segments; segment += 1) {
    worker(segment).then(
      () => channel.done(),
      (error: unknown) => channel.done(error),
    );
  }
  try {
    for await (const page of channel.pages()) {
      options.onScanned?.(page.scanned);
      yield* page.items;
    }
  } finally {
    // A consumer that stops early (or failed) lets the workers finish their current page and quit.
    stopped = true;
  }
}
