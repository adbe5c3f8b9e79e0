/**
 * The embedded default: every AWS part the pipeline touches, started in this process on real
 * HTTP ports, with the same handler code that runs in Lambda. Used by `npm start`
 * (local/start.ts), the integration tests and the benchmark.
 *
 *   S3        s3rver          $WEFT_HOME/s3, s3-commits/, sequencer.json
 *   DynamoDB  dynalite        $WEFT_HOME/dynamodb
 *   SageMaker model server    models dir (trained artifacts, else fixtures)
 *   SQS       dispatcher      $WEFT_HOME/queues.json, queues.<n>.journal, dead-letters/
 *   API GW    API server      GET /local/dead-letters, GET /local/queues, POST /local/retag besides the api handler's routes
 *
 * Acknowledged means kept: S3 answers an upload only after the object is committed and its
 * notification is in the dispatcher's journal, so a stop or a kill loses nothing S3 acknowledged
 * (local/README.md, "What survives a crash").
 *
 * With `faults` (WEFT_FAULTS) a fault switch fails a seeded share of model-server invocations and,
 * through a proxy in front of dynalite, of the handlers' DynamoDB requests (local/faults/).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { S3EventRecord } from 'aws-lambda';
import { EQUAL_WEIGHTS, loadModelSet, modelVersion } from '../functions/shared/ingest/config.js';
import { resolveModelsDir } from '../functions/shared/manifest.js';
import { ProductStore } from '../functions/shared/products/productStore.js';
import { tableDefinition } from '../functions/shared/products/tableDefinition.js';
import { API_ROUTES } from '../functions/api/routeTable.js';
import type { QueueName } from '../functions/shared/layout.js';
import { startApiServer, type ApiHandler, type LocalRoute } from './apiServer.js';
import { DeadLetterStore, type DeadLetter } from './dispatcher/deadLetterStore.js';
import { Dispatcher } from './dispatcher/Dispatcher.js';
import type { LocalQueueName, QueueConfig, SqsHandler } from './dispatcher/types.js';
import { ensureTable, startDynamo } from './dynamodb.js';
import { applyHandlerEnv, LOCAL_CREDENTIALS, LOCAL_REGION } from './handlerEnv.js';
import { startModelServer } from './modelServer/server.js';
import { startS3Server } from './s3Server.js';
import { SequencerClock } from './sequencer.js';
import { ingestSamplesOnce, type SampleIngest } from './samples.js';
import { lockHome } from './homeLock.js';
import { parseFaultSpec, formatFaultSpec } from './faults/faultSpec.js';
import { FaultSwitch } from './faults/FaultSwitch.js';
import { startDynamoFaultProxy } from './faults/dynamoFaultProxy.js';
import { faultRoute } from './faults/faultRoute.js';
import { objectRoute } from './objectRoute.js';
import { consoleFilesRoute } from './consoleFiles.js';
import { RETAG_QUEUES, retagRoute } from './retagRoute.js';

export type ServiceName = 'api' | 's3' | 'dynamodb' | 'models';

export interface DeliveryOptions {
  /** Receives before a message is dead-lettered (the queue's redrive maxReceiveCount). */
  maxReceiveCount: number;
  backoffMs: number;
  maxBackoffMs: number;
  batchSize: number;
  batchWindowMs: number;
  concurrency: number;
  /** Batches of each re-tag queue at once (the AWS stack caps the re-tag event sources the same way). */
  retagConcurrency: number;
  timeoutMs: number;
}

export interface StackOptions {
  /** State folder; default $WEFT_HOME or ./.weft. */
  home?: string;
  /** 0 (the default here) picks a free port; `npm start` passes 3000/4569/4567/8080. */
  ports?: Partial<Record<ServiceName, number>>;
  modelsDir?: string;
  /** Upload samples/catalog on the first start of this home. */
  ingestSamples?: boolean;
  samplesDir?: string;
  quiet?: boolean;
  delivery?: Partial<DeliveryOptions>;
  /** Replaces a Lambda handler (tests of delivery itself); by default the real ones are imported. */
  handlers?: Partial<{ image: SqsHandler; text: SqsHandler; api: ApiHandler }>;
  bucket?: string;
  tableName?: string;
  /** Sees every notification S3 sends (tests capture them to redeliver one, as S3 may). */
  onS3Record?: (record: S3EventRecord) => void;
  /**
   * Fault injection in WEFT_FAULTS syntax (local/faults/faultSpec.ts); `npm start` passes
   * $WEFT_FAULTS. Unset: no switch at all (and no proxy in front of DynamoDB).
   */
  faults?: string;
  /** Request counting (the cost bench): sees the clients the stack builds and wraps each handler invocation. */
  hooks?: StackHooks;
}

/** Where the stack lets a caller count what a run costs; nothing here changes what the handlers do. */
export interface StackHooks {
  /** Each SDK client the stack itself constructs (the re-tag route's DynamoDB client, the object route's and the user's S3 clients). */
  client?(role: 'retag-dynamodb' | 'objects-s3' | 'user-s3', client: { middlewareStack: unknown }): void;
  /** Wraps one invocation: a batch of a queue (`records` messages), an API request, a re-tag batch. */
  invocation?<T>(fn: 'image-ingest' | 'text-ingest' | 'api' | 'retag-batch', detail: { queue?: string; records: number }, run: () => Promise<T>): Promise<T>;
}

export interface RunningStack {
  urls: Record<ServiceName, string>;
  home: string;
  bucket: string;
  tableName: string;
  modelsDir: string;
  models: string[];
  /** An S3 client for the local endpoint, as a user would configure one. */
  s3: S3Client;
  dispatcher: {
    idle(): Promise<void>;
    deadLetters(): Promise<DeadLetter[]>;
    depth(): ReturnType<Dispatcher['depth']>;
    /** Delivers a notification again, as S3's at-least-once delivery sometimes does. */
    publish(record: S3EventRecord): void;
    /** Saves the queues now, synchronously: for a process about to exit without stop(). */
    persist(): void;
  };
  samples?: SampleIngest;
  /** Stops one service while the rest keep running (fault tests: a model server that went away). */
  stopService(name: ServiceName): Promise<void>;
  stop(): Promise<void>;
}

export const DEFAULT_DELIVERY: DeliveryOptions = {
  maxReceiveCount: 5,
  backoffMs: 1000,
  maxBackoffMs: 30_000,
  batchSize: 10,
  batchWindowMs: 250,
  concurrency: 2,
  retagConcurrency: 1,
  timeoutMs: 120_000,
};

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

const importHandler = async <T>(relativePath: string): Promise<T> => {
  const module = (await import(pathToFileURL(join(projectRoot, relativePath)).href)) as { handler?: T };
  if (typeof module.handler !== 'function') throw new Error(`${relativePath} does not export a handler function`);
  return module.handler;
};

export const startStack = async (opts: StackOptions = {}): Promise<RunningStack> => {
  // Parsed before anything starts: a mistyped switch is a message, not a half-started stack.
  const faults = opts.faults === undefined ? undefined : new FaultSwitch(parseFaultSpec(opts.faults));
  const home = resolve(opts.home ?? process.env.WEFT_HOME ?? '.weft');
  mkdirSync(home, { recursive: true });
  const unlockHome = lockHome(home);
  const bucket = opts.bucket ?? 'weft-uploads';
  const tableName = opts.tableName ?? 'weft-products';
  const modelsDir = opts.modelsDir ?? resolveModelsDir(process.env, projectRoot);
  const log = opts.quiet ? () => undefined : (message: string) => console.error(message);
  // The handlers' Powertools loggers read their level when first imported (below).
  if (opts.quiet) process.env.POWERTOOLS_LOG_LEVEL ??= 'CRITICAL';
  const delivery = { ...DEFAULT_DELIVERY, ...opts.delivery };
  const ports = { api: 0, s3: 0, dynamodb: 0, models: 0, ...opts.ports };

  const stops: { name: ServiceName | 'dispatcher' | 'queues' | 'objects'; stop: () => Promise<void> }[] = [];
  const stopAll = async (): Promise<void> => {
    // Reverse start order: the API first; the dispatcher, which waits for running batches (they
    // still need S3, the models and DynamoDB); S3, which answers the uploads under way (their
    // notifications are queued, not delivered); then the queues' final save, once nothing sends.
    for (const { stop } of stops.splice(0).reverse()) await stop().catch((error: unknown) => log(`[stack] stop: ${(error as Error).message}`));
    unlockHome();
  };

  try {
    const dynamo = await startDynamo({ directory: join(home, 'dynamodb'), port: ports.dynamodb });
    stops.push({ name: 'dynamodb', stop: dynamo.stop });
    await ensureTable(dynamo.url, tableDefinition(tableName), tableName);
    // With a fault switch the handlers (and the API) reach dynalite through the fault proxy.
    let handlerDynamoUrl = dynamo.url;
    if (faults) {
      const proxy = await startDynamoFaultProxy({ upstream: dynamo.url, faults });
      stops.push({ name: 'dynamodb', stop: proxy.stop });
      handlerDynamoUrl = proxy.url;
      log(`[stack] fault injection on: ${formatFaultSpec(faults.spec)} (GET/PUT /local/faults)`);
    }

    if (!existsSync(modelsDir)) throw new Error(`models folder ${modelsDir} does not exist (set WEFT_MODELS_DIR)`);
    const models = await startModelServer({ modelsDir, port: ports.models, log, faults });
    stops.push({ name: 'models', stop: models.stop });
    if (models.models.length === 0) log(`[stack] no model folders with a manifest.json under ${modelsDir}`);

    // The dispatcher (and its journal) exists before S3 so every notification is queued durably
    // from the first upload on; it starts delivering once the handlers are loaded.
    const handlers: Partial<Record<QueueName, SqsHandler>> = {};
    const hooks = opts.hooks;
    const queue = (name: QueueName, concurrency = delivery.concurrency, queueName: string = name): QueueConfig => ({
      handler: (event, context) => {
        const handler = handlers[name];
        if (!handler) throw new Error(`${name} handler not loaded yet`);
        if (!hooks?.invocation) return handler(event, context);
        return hooks.invocation(`${name}-ingest`, { queue: queueName, records: event.Records.length }, async () => handler(event, context));
      },
      batchSize: delivery.batchSize,
      batchWindowMs: delivery.batchWindowMs,
      concurrency,
      timeoutMs: delivery.timeoutMs,
    });
    const deadLetters = new DeadLetterStore(join(home, 'dead-letters'));
    const dispatcher = new Dispatcher({
      // The re-tag queues feed the same handlers, fewer batches at once, so a re-tag leaves the notification queues their share.
      queues: {
        image: queue('image'),
        text: queue('text'),
        [RETAG_QUEUES.image]: queue('image', delivery.retagConcurrency, RETAG_QUEUES.image),
        [RETAG_QUEUES.text]: queue('text', delivery.retagConcurrency, RETAG_QUEUES.text),
      },
      maxReceiveCount: delivery.maxReceiveCount,
      backoffMs: delivery.backoffMs,
      maxBackoffMs: delivery.maxBackoffMs,
      deadLetters,
      pendingFile: join(home, 'queues.json'),
      region: LOCAL_REGION,
      log,
    });
    stops.push({ name: 'queues', stop: async () => dispatcher.close() });

    const s3Server = await startS3Server({
      directory: join(home, 's3'),
      commitsDirectory: join(home, 's3-commits'),
      sequencers: new SequencerClock(join(home, 'sequencer.json')),
      port: ports.s3,
      bucket,
      region: LOCAL_REGION,
      log,
      // Inside the upload's commit, before S3 answers it: a queued notification is a kept upload.
      onRecord: (record) => {
        opts.onS3Record?.(record);
        dispatcher.publishS3Record(record);
      },
    });
    stops.push({ name: 's3', stop: s3Server.stop });

    applyHandlerEnv({
      s3: s3Server.url,
      dynamodb: handlerDynamoUrl,
      models: models.url,
      bucket,
      tableName,
      modelsDir,
      // Locally an endpoint is named by its manifest, whatever a shell may have exported for AWS.
      imageEndpointName: models.endpoints.image ?? 'weft-image',
      textEndpointName: models.endpoints.text ?? 'weft-text',
      detectorEndpointName: models.endpoints.detector ?? 'weft-detector',
    });

    handlers.image = opts.handlers?.image ?? (await importHandler<SqsHandler>('functions/image-ingest/handler.ts'));
    handlers.text = opts.handlers?.text ?? (await importHandler<SqsHandler>('functions/text-ingest/handler.ts'));
    const apiHandler = opts.handlers?.api ?? (await importHandler<ApiHandler>('functions/api/handler.ts'));
    const api: ApiHandler = hooks?.invocation ? (event, context) => hooks.invocation!('api', { records: 1 }, async () => apiHandler(event, context)) : apiHandler;

    dispatcher.start();
    const running = dispatcher;
    stops.push({ name: 'dispatcher', stop: () => running.drain() });

    const localRoutes: LocalRoute[] = [
      async (method, path, query) => {
        if (method === 'POST' && path === '/local/dead-letters/redrive') {
          // SQS's DLQ redrive: back onto their queue, as new messages with a fresh receive count.
          const only = query.getAll('messageId');
          const letters = deadLetters.list().filter((l) => only.length === 0 || only.includes(l.messageId));
          const redriven = letters.map((l) => {
            // send() journals the new message before it returns; only then does the letter go.
            const messageId = running.send(l.queue as LocalQueueName, l.body);
            deadLetters.remove(l.messageId);
            return { from: l.messageId, messageId, queue: l.queue, keys: l.keys };
          });
          return { status: 200, body: { redriven } };
        }
        if (method !== 'GET') return undefined;
        if (path === '/local/dead-letters') {
          const limit = Number(query.get('limit') ?? 100);
          const letters = deadLetters.list();
          return { status: 200, body: { items: letters.slice(0, Number.isFinite(limit) && limit > 0 ? limit : 100), total: letters.length } };
        }
        if (path === '/local/queues') return { status: 200, body: running.depth() };
        return undefined;
      },
    ];
    localRoutes.push(faultRoute(faults));
    // weft retag: batches of the local bucket's keys, checked against the table and the served models' versions.
    // A stack serving no models (tests of the servers themselves) re-tags nothing: every key is `no_model`.
    const retagModels = models.models.length > 0 ? loadModelSet(modelsDir) : undefined;
    const retagDynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: handlerDynamoUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }));
    hooks?.client?.('retag-dynamodb', retagDynamo);
    const retagStore = new ProductStore({ client: retagDynamo, tableName, catalog: retagModels?.catalog ?? {}, ensemble: retagModels?.ensemble ?? EQUAL_WEIGHTS });
    stops.push({ name: 'objects', stop: async () => retagDynamo.destroy() });
    const retag = retagRoute({
        send: (queueName: LocalQueueName, body: string) => running.send(queueName, body),
        readRecords: (refs) => retagStore.readSourceRecords(refs),
        deployed: {
          ...(retagModels?.image ? { image: modelVersion(retagModels.image) } : {}),
          ...(retagModels?.text ? { text: modelVersion(retagModels.text) } : {}),
        },
        bucket,
      });
    localRoutes.push(hooks?.invocation ? (method, path, query, ...rest) => (path === '/local/retag' && method === 'POST' ? hooks.invocation!('retag-batch', { records: 1 }, async () => retag(method, path, query, ...rest)) : retag(method, path, query, ...rest)) : retag);
    // The console and the pictures it shows, from this origin (on AWS: CloudFront and presigned URLs).
    let objects: S3Client | undefined;
    localRoutes.push(
      objectRoute(() => {
        if (objects) return objects;
        objects = new S3Client({ endpoint: s3Server.url, forcePathStyle: true, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
        hooks?.client?.('objects-s3', objects);
        return objects;
      }, bucket),
      consoleFilesRoute(join(projectRoot, 'console/dist')),
    );
    stops.push({ name: 'objects', stop: async () => objects?.destroy() });
    // The routes the HTTP API declares in CDK (lib/api mirrors this table): the handler gets the
    // same routeKey and pathParameters, and an undeclared path the same 404, as behind API Gateway.
    const routes = opts.handlers?.api ? undefined : API_ROUTES.map((r) => ({ path: r.path, methods: [r.method] }));
    const apiServer = await startApiServer({ handler: api, routes, port: ports.api, localRoutes, log });
    stops.push({ name: 'api', stop: apiServer.stop });

    const s3 = new S3Client({ endpoint: s3Server.url, forcePathStyle: true, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    hooks?.client?.('user-s3', s3);
    let samples: SampleIngest | undefined;
    if (opts.ingestSamples) {
      samples = await ingestSamplesOnce({ s3, bucket, home, samplesDir: opts.samplesDir ?? join(projectRoot, 'samples/catalog') });
    }

    return {
      urls: { api: apiServer.url, s3: s3Server.url, dynamodb: dynamo.url, models: models.url },
      home,
      bucket,
      tableName,
      modelsDir,
      models: models.models,
      s3,
      dispatcher: {
        idle: () => running.idle(),
        deadLetters: () => running.deadLetters(),
        depth: () => running.depth(),
        publish: (record) => void running.publishS3Record(record),
        persist: () => running.persist(),
      },
      samples,
      stopService: async (name) => {
        const index = stops.findIndex((s) => s.name === name);
        if (index >= 0) await stops.splice(index, 1)[0]!.stop();
      },
      stop: async () => {
        s3.destroy();
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
};
