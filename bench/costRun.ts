/**
 * The cost bench's run: uploads products (N images + product.json each) to the embedded stack,
 * counts what the handlers ask of S3, DynamoDB, the model server and the dispatcher (standing in
 * for SQS), then reads each product once through the API, then re-tags every product (the same
 * home restarted with image and text model versions bumped, `POST /local/retag` with
 * `staleOnly`, as `weft retag --stale-only` does) and counts that too. See bench/README.md, "Cost".
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { documentClient, s3Client } from '../functions/shared/awsClients.js';
import { decodeS3Key, queueForKey } from '../functions/shared/layout.js';
import type { BenchImage } from './images.js';
import { CostCounter, type CostCounts, type FunctionName } from './costCounters.js';

export interface CostPhase {
  counts: CostCounts;
  /** Image model calls: rows (images) per call, as batched by the handlers. */
  modelBatches: Record<string, number[]>;
}

export interface CostRun {
  products: number;
  imagesPerProduct: number;
  ingest: CostPhase;
  api: CostPhase;
  retag: CostPhase & { queued: { image: number; text: number }; batches: number };
  stored: { uploadBytes: number; derivedBytes: number; objects: { uploads: number; derived: number }; dynamodbBytes: number; dynamodbItems: number };
  views: number;
  modelsDir: string;
}

const TITLES = ['Striped cotton shirt', 'Slim-fit denim jeans', 'Wool crew-neck pullover', 'Floral summer dress'];
const COLORS = ['navy', 'off-white', 'charcoal', 'burgundy'];

/** A models folder serving the same models, each manifest's version suffixed: what a new rollout looks like to the re-tag. */
const bumpedModels = (from: string, to: string, suffix: string): void => {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    if (!entry.isDirectory() || !['image', 'text', 'detector'].includes(entry.name)) {
      symlinkSync(source, join(to, entry.name));
      continue;
    }
    mkdirSync(join(to, entry.name));
    for (const inner of readdirSync(source)) {
      if (inner === 'manifest.json') {
        const manifest = JSON.parse(readFileSync(join(source, inner), 'utf8')) as { version: string };
        writeFileSync(join(to, entry.name, inner), JSON.stringify({ ...manifest, version: entry.name === 'detector' ? manifest.version : `${manifest.version}.${suffix}` }, null, 2));
      } else symlinkSync(join(source, inner), join(to, entry.name, inner));
    }
  }
};

export const runCost = async (opts: { products: number; imagesPerProduct: number; images: BenchImage[]; modelsDir?: string; retagBatchSize: number; log: (m: string) => void }): Promise<CostRun> => {
  const { startStack } = await import('../local/stack.js');
  const home = mkdtempSync(join(tmpdir(), 'weft-cost-'));
  const counter = new CostCounter();
  let modelBatches: Record<string, number[]> = {};
  const onInvoke = (message: unknown): void => {
    const m = message as { endpointName: string; rows: number; requestBytes: number };
    const caller = counter.caller('bench');
    counter.record(caller, 'sagemaker', m.endpointName, { units: m.rows, bytes: m.requestBytes });
    (modelBatches[m.endpointName] ??= []).push(m.rows);
  };
  const phase = (): CostPhase => {
    const taken = { counts: counter.take(), modelBatches };
    modelBatches = {};
    return taken;
  };
  const start = async (modelsDir: string | undefined) => {
    const stack = await startStack({
      home: join(home, 'state'),
      quiet: true,
      ingestSamples: false,
      ...(modelsDir ? { modelsDir } : {}),
      // S3 → SQS: one SendMessage per notification a filter matches (derived/ views match none).
      onS3Record: (record) => {
        const queue = queueForKey(decodeS3Key(record.s3.object.key));
        if (queue) counter.record('vendor', 'sqs', `SendMessage ${queue}`);
      },
      hooks: {
        client: (role, client) => (role === 'retag-dynamodb' ? counter.countDynamo(client, 'retag-batch') : counter.countS3(client, role === 'user-s3' ? 'vendor' : 'api')),
        invocation: (fn, detail, run) => counter.invoke(fn as FunctionName, detail, run),
      },
    });
    // The handlers' shared clients, built once the stack set their endpoints.
    counter.countS3(s3Client(), 'bench');
    counter.countDynamo(documentClient(), 'bench');
    return stack;
  };
  subscribe('weft:inference:invoke', onInvoke);
  let stack: Awaited<ReturnType<typeof startStack>> | undefined;
  try {
    stack = await start(opts.modelsDir);
    const modelsDir = stack.modelsDir;
    const vendor = 'cost';
    const ids = Array.from({ length: opts.products }, (_, p) => `p${String(p).padStart(4, '0')}`);
    await Promise.all(
      ids.map(async (productId, p) => {
        for (let i = 0; i < opts.imagesPerProduct; i++) {
          const image = opts.images[(p * opts.imagesPerProduct + i) % opts.images.length]!;
          await stack!.s3.send(new PutObjectCommand({ Bucket: stack!.bucket, Key: `${vendor}/${productId}/images/${i}.jpg`, Body: image.bytes, ContentType: 'image/jpeg' }));
        }
        const product = { title: `${TITLES[p % TITLES.length]} ${p}`, description: `A ${COLORS[p % COLORS.length]} piece from the cost benchmark, product ${p}.`, brand: 'Weft Bench', color: COLORS[p % COLORS.length] };
        await stack!.s3.send(new PutObjectCommand({ Bucket: stack!.bucket, Key: `${vendor}/${productId}/product.json`, Body: JSON.stringify(product), ContentType: 'application/json' }));
      }),
    );
    await stack.dispatcher.idle();
    const ingest = phase();
    opts.log(`[bench] cost: ${opts.products} products ingested; ${(await stack.dispatcher.deadLetters()).length} dead letters`);

    for (const productId of ids) await (await fetch(`${stack.urls.api}/products/${vendor}/${productId}`)).arrayBuffer();
    const api = phase();

    // What is stored (not counted as requests): the bucket by prefix, the table's items.
    const stored = { uploadBytes: 0, derivedBytes: 0, objects: { uploads: 0, derived: 0 }, dynamodbBytes: 0, dynamodbItems: 0 };
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await stack.s3.send(new ListObjectsV2Command({ Bucket: stack.bucket, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        keys.push(o.Key!);
        if (o.Key!.startsWith('derived/')) { stored.derivedBytes += o.Size ?? 0; stored.objects.derived++; }
        else { stored.uploadBytes += o.Size ?? 0; stored.objects.uploads++; }
      }
      token = page.NextContinuationToken;
    } while (token);
    const listPages = Math.ceil(keys.length / 1000);
    const raw = new DynamoDBClient({ endpoint: stack.urls.dynamodb, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await raw.send(new ScanCommand({ TableName: stack.tableName, ExclusiveStartKey: startKey as never }));
      for (const item of page.Items ?? []) { stored.dynamodbItems++; stored.dynamodbBytes += Buffer.byteLength(JSON.stringify(item)); }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    raw.destroy();
    counter.take();

    // Re-tag: the same home, now serving bumped model versions.
    await stack.stop();
    stack = undefined;
    const bumped = join(home, 'models-bumped');
    bumpedModels(modelsDir, bumped, 'cost');
    stack = await start(bumped);
    counter.take();
    // The job's ItemReader lists the bucket (ListObjectsV2, 1,000 keys a page) before the batches.
    for (let i = 0; i < listPages; i++) counter.record('stepfunctions', 's3', 'ListObjectsV2Command');
    const queued = { image: 0, text: 0 };
    let batches = 0;
    for (let i = 0; i < keys.length; i += opts.retagBatchSize) {
      const items = keys.slice(i, i + opts.retagBatchSize).map((key) => ({ key }));
      const response = await fetch(`${stack.urls.api}/local/retag`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Items: items, BatchInput: { filters: { staleOnly: true } } }) });
      if (response.status !== 200) throw new Error(`POST /local/retag answered ${response.status}: ${await response.text()}`);
      const result = (await response.json()) as { queued: { image: number; text: number } };
      batches++;
      counter.record('stepfunctions', 'stepfunctions', 'ExpressExecution');
      for (const kind of ['image', 'text'] as const) {
        queued[kind] += result.queued[kind];
        // On AWS retag-batch sends ten per SendMessageBatch.
        for (let n = 0; n < Math.ceil(result.queued[kind] / 10); n++) counter.record('retag-batch', 'sqs', `SendMessageBatch ${kind}-retag`);
      }
    }
    await stack.dispatcher.idle();
    const retag = { ...phase(), queued, batches };
    opts.log(`[bench] cost: re-tag queued ${queued.image} image and ${queued.text} text sources in ${batches} batches`);
    // Three views per image with a garment view, two without: the bench serves what the models folder declares.
    const manifest = JSON.parse(readFileSync(join(modelsDir, 'image', 'manifest.json'), 'utf8')) as { inputs: unknown[] };
    return { products: opts.products, imagesPerProduct: opts.imagesPerProduct, ingest, api, retag, stored, views: manifest.inputs.length, modelsDir };
  } finally {
    unsubscribe('weft:inference:invoke', onInvoke);
    await stack?.stop();
    rmSync(home, { recursive: true, force: true });
  }
};

