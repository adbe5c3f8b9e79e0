/**
 * Brings every product of the table up to the current item design by merging it again: the merge
 * recomputes the product from its sources and writes whatever its index items and the listing's
 * entries and facet counters lack (a product merged before the listing existed gains them; one
 * already current is left as it is and costs one partition read). Products are read by the
 * export's parallel Scan, so memory stays at a few pages whatever the table's size, and each merge
 * is the ordinary version-guarded one, safe beside live ingest.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { scanProductItems } from '../export/scanProducts.js';
import type { ProductStore } from './productStore.js';

export interface ReindexOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  store: Pick<ProductStore, 'merge'>;
  vendor?: string;
  segments?: number;
  /** Merges in flight at once. */
  concurrency?: number;
  onProgress?: (progress: ReindexSummary) => void;
}

export interface ReindexSummary {
  products: number;
  /** Products whose merge wrote something (a new version). */
  rewritten: number;
  failed: number;
  /** The first few failures, `vendor/productId: message`. */
  failures: string[];
}

export const reindexCatalog = async (options: ReindexOptions): Promise<ReindexSummary> => {
  const summary: ReindexSummary = { products: 0, rewritten: 0, failed: 0, failures: [] };
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const running = new Set<Promise<void>>();
  const mergeOne = async (vendor: string, productId: string): Promise<void> => {
    try {
      if ((await options.store.merge(vendor, productId)).changed) summary.rewritten += 1;
    } catch (error) {
      // One product that cannot be merged is reported, never stops the others.
      summary.failed += 1;
      if (summary.failures.length < 10) summary.failures.push(`${vendor}/${productId}: ${(error as Error).message}`);
    }
    summary.products += 1;
    options.onProgress?.(summary);
  };
  for await (const item of scanProductItems(options.client, options.tableName, {
    ...(options.segments ? { segments: options.segments } : {}),
    ...(options.vendor ? { vendor: options.vendor } : {}),
  })) {
    const task = mergeOne(item.vendor, item.productId).finally(() => running.delete(task));
    running.add(task);
    if (running.size >= concurrency) await Promise.race(running);
  }
  await Promise.all(running);
  return summary;
};
