/**
 * Streams the catalog from the products table into one export file. Product items come from a
 * parallel Scan (scanProducts.ts); formats that need the API view read each product's partition
 * with the same Query and builder the API uses, a bounded number at a time. Lines go to
 * `<out>.partial` with backpressure and the file is renamed into place only when complete, so a
 * failed export never leaves a half file under the requested name.
 */
import { once } from 'node:events';
import { createWriteStream, openSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ProductStore } from '../products/productStore.js';
import { formatter, type ExportContext, type ExportFormat, type ExportProduct } from './formats.js';
import { scanProductItems } from './scanProducts.js';

export interface ExportOptions extends ExportContext {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Reads partitions for formats that need the API view. */
  store: ProductStore;
  format: ExportFormat;
  out: string;
  vendor?: string;
  segments?: number;
  pageSize?: number;
  /** Partition reads in flight for view formats. */
  concurrency?: number;
  onProgress?: (progress: ExportProgress) => void;
}

export interface ExportProgress {
  /** Items DynamoDB examined so far (all item types). */
  scanned: number;
  products: number;
  written: number;
}

export interface ExportSummary extends ExportProgress {
  /** reason code → products skipped for it. */
  skipped: Record<string, number>;
  /** A few skipped products with their reason, for the person reading the summary. */
  examples: string[];
}

export const runExport = async (options: ExportOptions): Promise<ExportSummary> => {
  const format = formatter(options.format, options);
  const partial = `${options.out}.partial`;
  // Opened here so a folder that does not exist fails at once, with the path in the message.
  const stream = createWriteStream('', { fd: openSync(partial, 'w'), encoding: 'utf8' });
  let failed: unknown;
  stream.on('error', (error) => (failed = error));
  const summary: ExportSummary = { scanned: 0, products: 0, written: 0, skipped: {}, examples: [] };
  const write = async (line: string): Promise<void> => {
    if (failed !== undefined) throw failed;
    if (!stream.write(`${line}\n`)) await once(stream, 'drain');
  };
  const emit = async (product: ExportProduct): Promise<void> => {
    const result = format.row(product);
    if ('line' in result) {
      await write(result.line);
      summary.written += 1;
      return;
    }
    const code = result.skip.split(':')[0]!;
    summary.skipped[code] = (summary.skipped[code] ?? 0) + 1;
    if (summary.examples.length < 5) summary.examples.push(`${product.vendor}/${product.productId}: ${result.skip}`);
  };
  const progress = () => options.onProgress?.({ scanned: summary.scanned, products: summary.products, written: summary.written });
  try {
    const header = format.header();
    if (header !== undefined) await write(header);
    const concurrency = options.concurrency ?? 16;
    let batch: ExportProduct[] = [];
    const flush = async (): Promise<void> => {
      if (format.needsView) {
        const views = await Promise.all(batch.map((p) => options.store.getProduct(p.vendor, p.productId)));
        batch.forEach((p, i) => (p.view = views[i]));
      }
      // Rows keep the order the scan delivered them in.
      for (const product of batch) if (!format.needsView || product.view) await emit(product);
      batch = [];
      progress();
    };
    for await (const item of scanProductItems(options.client, options.tableName, {
      segments: options.segments,
      vendor: options.vendor,
      pageSize: options.pageSize,
      onScanned: (n) => {
        summary.scanned += n;
        progress();
      },
    })) {
      summary.products += 1;
      batch.push({ vendor: item.vendor, productId: item.productId, attributes: item.attributes ?? {}, ...(item.vendorColor ? { vendorColor: item.vendorColor } : {}) });
      if (batch.length >= (format.needsView ? concurrency : 500)) await flush();
    }
    await flush();
    if (failed !== undefined) throw failed;
    stream.end();
    await once(stream, 'finish');
    await rename(partial, options.out);
    return summary;
  } catch (error) {
    stream.destroy();
    await rm(partial, { force: true });
    throw error;
  }
};
