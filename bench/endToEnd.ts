/**
 * End to end on the embedded stack (local/stack.ts): upload N products (images + product.json)
 * with the S3 client, wait until the API shows each product with every source done, and time
 * the stages inside the handlers:
 *   fetch       S3 GetObject of an upload (SDK middleware on the handlers' shared S3 client)
 *   preprocess  prepareViews (diagnostics channel weft:image:prepareViews)
 *   inferImage / inferText  one InvokeEndpoint call (channel weft:inference:invoke)
 *   store       one DynamoDB call of the product store — source updates and the merge
 *               (SDK middleware on the handlers' shared document client), also per command
 * Numbers are per call; productLatencyMs is upload start → API shows the product done.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { documentClient, s3Client } from '../functions/shared/awsClients.js';
import type { BenchImage } from './images.js';
import { round, summarize, type Summary } from './stats.js';

export interface EndToEndResult {
  products: number;
  imagesPerProduct: number;
  seconds: number;
  productsPerSecond: number;
  imagesPerSecond: number;
  productLatencyMs: Summary;
  stages: Record<string, Summary>;
  storeByCommand: Record<string, Summary>;
  payload: { calls: number; rows: number; bytesPerImage: number | null; bytesPerText: number | null };
  outcome: { tagged: number; errors: number; deadLetters: number; timedOut: number };
  modelsDir: string;
}

interface ProductView {
  images?: { status: string }[];
  text?: { status: string };
  attributes?: Record<string, unknown>;
}

const TITLES = ['Striped cotton shirt', 'Slim-fit denim jeans', 'Wool crew-neck pullover', 'Floral summer dress', 'Leather ankle boots', 'Canvas tote bag'];
const COLORS = ['navy', 'off-white', 'charcoal', 'burgundy', 'olive', 'sky blue'];

type TimingClient = { middlewareStack: { add: (mw: unknown, opts: { step: 'initialize'; name: string; override?: boolean }) => void } };

const addTiming = (client: TimingClient, name: string, record: (command: string, ms: number) => void): void => {
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        record(context.commandName ?? 'unknown', performance.now() - started);
      }
    },
    { step: 'initialize', name, override: true },
  );
};

export const runEndToEnd = async (opts: { products: number; imagesPerProduct: number; images: BenchImage[]; timeoutSeconds: number; log: (m: string) => void }): Promise<EndToEndResult> => {
  const { startStack } = await import('../local/stack.js');
  const home = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  const stack = await startStack({ home, quiet: true, ingestSamples: false });
  const stages: Record<string, number[]> = { fetch: [], preprocess: [], inferImage: [], inferText: [], store: [] };
  const storeByCommand: Record<string, number[]> = {};
  const calls = { image: { calls: 0, rows: 0, bytes: 0 }, text: { calls: 0, rows: 0, bytes: 0 } };
  const onPrepare = (message: unknown) => stages.preprocess!.push((message as { milliseconds: number }).milliseconds);
  const onInvoke = (message: unknown) => {
    const m = message as { endpointName: string; rows: number; requestBytes: number; milliseconds: number };
    const kind = m.endpointName.endsWith('text') ? 'text' : 'image';
    stages[kind === 'text' ? 'inferText' : 'inferImage']!.push(m.milliseconds);
    calls[kind].calls++;
    calls[kind].rows += m.rows;
    calls[kind].bytes += m.requestBytes;
  };
  try {
    // The handlers run in this process and share these clients (functions/shared/awsClients.ts).
    addTiming(s3Client() as unknown as TimingClient, 'weftBenchFetch', (command, ms) => {
      if (command === 'GetObjectCommand') stages.fetch!.push(ms);
    });
    addTiming(documentClient() as unknown as TimingClient, 'weftBenchStore', (command, ms) => {
      stages.store!.push(ms);
      (storeByCommand[command] ??= []).push(ms);
    });
    subscribe('weft:image:prepareViews', onPrepare);
    subscribe('weft:inference:invoke', onInvoke);

    const vendor = 'bench';
    const started = performance.now();
    const uploadedAt = new Map<string, number>();
    // Upload like a vendor would: product by product, images then product.json.
    await Promise.all(
      Array.from({ length: opts.products }, async (_, p) => {
        const productId = `p${String(p).padStart(4, '0')}`;
        uploadedAt.set(productId, performance.now());
        for (let i = 0; i < opts.imagesPerProduct; i++) {
          const image = opts.images[(p * opts.imagesPerProduct + i) % opts.images.length]!;
          await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `${vendor}/${productId}/images/${i}.jpg`, Body: image.bytes, ContentType: 'image/jpeg' }));
        }
        const product = { title: `${TITLES[p % TITLES.length]} ${p}`, description: `A ${COLORS[p % COLORS.length]} piece from the benchmark catalog, product ${p}.`, brand: 'Weft Bench', color: COLORS[p % COLORS.length] };
        await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `${vendor}/${productId}/product.json`, Body: JSON.stringify(product), ContentType: 'application/json' }));
      }),
    );
    opts.log(`[bench] uploaded ${opts.products} products in ${((performance.now() - started) / 1000).toFixed(1)} s; waiting for attributes via the API`);

    const latency = new Map<string, number>();
    const outcome = { tagged: 0, errors: 0, deadLetters: 0, timedOut: 0 };
    const deadline = started + opts.timeoutSeconds * 1000;
    while (latency.size < opts.products && performance.now() < deadline) {
      for (const productId of uploadedAt.keys()) {
        if (latency.has(productId)) continue;
        const response = await fetch(`${stack.urls.api}/products/${vendor}/${productId}`);
        if (response.status !== 200) continue;
        const view = (await response.json()) as ProductView;
        const statuses = [...(view.images ?? []).map((i) => i.status), view.text?.status ?? 'pending'];
        if ((view.images ?? []).length < opts.imagesPerProduct || statuses.some((s) => s === 'pending')) continue;
        latency.set(productId, performance.now() - uploadedAt.get(productId)!);
        if (statuses.every((s) => s === 'tagged')) outcome.tagged++;
        else outcome.errors++;
      }
      if (latency.size < opts.products) await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    outcome.timedOut = opts.products - latency.size;
    outcome.deadLetters = (await stack.dispatcher.deadLetters()).length;
    return {
      products: opts.products,
      imagesPerProduct: opts.imagesPerProduct,
      seconds: round(seconds),
      productsPerSecond: round(latency.size / seconds),
      imagesPerSecond: round((latency.size * opts.imagesPerProduct) / seconds),
      productLatencyMs: summarize([...latency.values()]),
      stages: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, summarize(v)])),
      storeByCommand: Object.fromEntries(Object.entries(storeByCommand).map(([k, v]) => [k, summarize(v)])),
      payload: {
        calls: calls.image.calls + calls.text.calls,
        rows: calls.image.rows + calls.text.rows,
        bytesPerImage: calls.image.rows ? round(calls.image.bytes / calls.image.rows) : null,
        bytesPerText: calls.text.rows ? round(calls.text.bytes / calls.text.rows) : null,
      },
      outcome,
      modelsDir: stack.modelsDir,
    };
  } finally {
    unsubscribe('weft:image:prepareViews', onPrepare);
    unsubscribe('weft:inference:invoke', onInvoke);
    await stack.stop();
    rmSync(home, { recursive: true, force: true });
  }
};
