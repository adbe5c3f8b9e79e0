/**
 * `npm start`: the whole pipeline on this machine, no AWS account and no Docker. State lives
 * under .weft/ (WEFT_HOME overrides) and survives restarts; Ctrl-C stops everything cleanly.
 *
 * Environment: WEFT_API_PORT (3000), WEFT_S3_PORT (4569), WEFT_DYNAMODB_PORT (4567),
 * WEFT_MODELS_PORT (8080) — 0 picks a free port; WEFT_HOME (.weft); WEFT_MODELS_DIR (trained
 * artifacts, else fixtures); WEFT_SAMPLES_DIR (samples/catalog, loaded on the first start);
 * WEFT_FAULTS (fault injection, local/README.md).
 */
import { relative, resolve } from 'node:path';
import { HomeInUseError } from './homeLock.js';
import { PortInUseError } from './listen.js';
import { startStack, type RunningStack, type ServiceName } from './stack.js';
import { buildConsole } from '../console/build.js';

const DEFAULT_PORTS: Record<ServiceName, number> = { api: 3000, s3: 4569, dynamodb: 4567, models: 8080 };
const PORT_VARS: Record<ServiceName, string> = { api: 'WEFT_API_PORT', s3: 'WEFT_S3_PORT', dynamodb: 'WEFT_DYNAMODB_PORT', models: 'WEFT_MODELS_PORT' };

const portsFromEnv = (): Record<ServiceName, number> => {
  const ports = { ...DEFAULT_PORTS };
  for (const name of Object.keys(PORT_VARS) as ServiceName[]) {
    const raw = process.env[PORT_VARS[name]];
    if (raw === undefined || raw === '') continue;
    const port = Number(raw);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${PORT_VARS[name]}=${raw} is not a port number`);
    ports[name] = port;
  }
  return ports;
};

/** A path as a person would type it from here: relative inside the project, absolute outside. */
const shown = (path: string): string => {
  const rel = relative(process.cwd(), path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
};

const describe = (stack: RunningStack): string => {
  const home = shown(stack.home);
  const samples = stack.samples;
  const samplesLine =
    samples?.status === 'ingested'
      ? `uploaded ${samples.files} files (${samples.products} products) from ${shown(samplesDirOf())}; tagging runs in the background`
      : samples?.status === 'already-ingested'
        ? `loaded on ${samples.at} (delete ${home}/samples-ingested.json to load them again)`
        : `none found at ${shown(samples?.dir ?? samplesDirOf())}`;
  const example = 'demo/shirt-001';
  const width = Math.max(...Object.values(stack.urls).map((u) => u.length)) + 4;
  const row = (label: string, url: string, note: string) => `  ${label.padEnd(10)}${url.padEnd(width)}${note}`;
  // `weft ingest` finds the local S3 through WEFT_S3_PORT; say so when it is not the default.
  const s3Port = new URL(stack.urls.s3).port;
  const ingestEnv = s3Port === String(DEFAULT_PORTS.s3) ? '' : `WEFT_S3_PORT=${s3Port} `;
  const homeEnv = process.env.WEFT_HOME ? `WEFT_HOME=${home} ` : '';
  return [
    '',
    'Weft is running (embedded default: no AWS account needed)',
    '',
    row('Console', `${stack.urls.api}/`, 'open in a browser: catalog, product pages, corrections, review queue, operations'),
    row('API', stack.urls.api, 'GET /health, /products, /products/{vendor}/{productId}, /review, /rejections; /docs'),
    row('S3', stack.urls.s3, `bucket ${stack.bucket} (any access key works)`),
    row('DynamoDB', stack.urls.dynamodb, `table ${stack.tableName}`),
    row('Models', stack.urls.models, `${stack.models.join(', ') || 'none'} from ${shown(stack.modelsDir)}`),
    `  ${'State'.padEnd(10)}${home}/ (s3, dynamodb, queues.json, dead-letters/)`,
    `  ${'Samples'.padEnd(10)}${samplesLine}`,
    '',
    'Upload a product (any credentials work, e.g. AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1):',
    `  aws --endpoint-url ${stack.urls.s3} s3 cp ./shirt.jpg s3://${stack.bucket}/${example}/images/front.jpg`,
    `  aws --endpoint-url ${stack.urls.s3} s3 cp ./product.json s3://${stack.bucket}/${example}/product.json`,
    `  ${ingestEnv}npx weft ingest ./my-catalog --vendor demo      (a folder of <productId>/{images/*,product.json})`,
    '',
    'Look it up:',
    `  curl ${stack.urls.api}/products/${example}`,
    `  curl ${stack.urls.api}/rejections`,
    `  curl ${stack.urls.api}/local/dead-letters      (or: ${homeEnv}npx weft dead-letters)`,
    '',
    'Ctrl-C stops everything; state is kept for the next start.',
    '',
  ].join('\n');
};

const samplesDirOf = (): string => resolve(process.env.WEFT_SAMPLES_DIR ?? 'samples/catalog');

const main = async (): Promise<void> => {
  // The SDK's Node 20 end-of-support notice is known (docs/environment) and would bury the
  // addresses printed below; an explicit setting in the environment still wins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Handler logs are JSON lines for CloudWatch; locally show warnings and errors unless asked.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  let stack: RunningStack;
  try {
    // The console is served from console/dist; rebuilt only when its sources changed.
    await buildConsole({ log: (message) => console.error(`weft: ${message}`) });
    stack = await startStack({ ports: portsFromEnv(), ingestSamples: true, samplesDir: samplesDirOf(), faults: process.env.WEFT_FAULTS });
  } catch (error) {
    // A busy port or a missing models folder is a message for a person, not a stack trace.
    console.error(`weft: ${(error as Error).message}`);
    if (!(error instanceof PortInUseError || error instanceof HomeInUseError) && process.env.DEBUG) console.error(error);
    process.exit(1);
  }

  // The Ctrl-C a terminal sends reaches the whole process group, and a wrapper such as tsx's CLI
  // relays it once more (when this process is slow to tell it the signal arrived), so one keypress
  // can arrive twice within milliseconds: only a signal well after the first means "stop now".
  const REPEAT_MEANS_FORCE_AFTER_MS = 1000;
  let stoppingSince: number | undefined;
  const shutdown = (signal: string): void => {
    if (stoppingSince !== undefined) {
      if (performance.now() - stoppingSince < REPEAT_MEANS_FORCE_AFTER_MS) return;
      console.error('weft: stopping forcefully (queues saved; batches that were running are delivered again on the next start)');
      try {
        stack.dispatcher.persist();
      } catch (error) {
        // Every queued message is in the journal already; the save only records receive counts.
        console.error(`weft: could not save the queues (${(error as Error).message}); the journal keeps the queued messages`);
      }
      process.exit(130);
    }
    stoppingSince = performance.now();
    console.error(`\nweft: ${signal} received, stopping (finishing running batches; pending messages are kept; Ctrl-C again to stop at once)...`);
    stack
      .stop()
      .then(() => {
        console.error('weft: stopped');
        process.exit(0);
      })
      .catch((error: unknown) => {
        console.error(`weft: error while stopping: ${(error as Error).message}`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // Only now: whoever waits for this text may signal at once, and must find the handlers in place.
  console.log(describe(stack));
};

await main();
