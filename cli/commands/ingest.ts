/**
 * `weft ingest <dir>`: upload a catalog folder into the uploads bucket, so the pipeline tags it.
 *
 *   weft ingest ./catalog --vendor acme   ./catalog/<productId>/{product.json,images/*}
 *   weft ingest ./catalog                 ./catalog/<vendor>/<productId>/{product.json,images/*}
 *
 * Target: the local stack started by `npm start` by default (http://127.0.0.1:$WEFT_S3_PORT,
 * bucket weft-uploads); `--bucket B` uploads to that bucket in AWS with the default credential
 * chain instead; `--endpoint URL` points at any other S3-compatible endpoint.
 */
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { describeError } from '../../functions/shared/errors.js';
import { ID_PATTERN } from '../../functions/shared/layout.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/handlerEnv.js';
import { scanCatalog } from '../../local/upload/catalogFiles.js';
import { uploadFiles } from '../../local/upload/uploadFiles.js';

interface IngestOptions {
  vendor?: string;
  bucket?: string;
  endpoint?: string;
  concurrency: string;
  dryRun?: boolean;
}

const LOCAL_BUCKET = 'weft-uploads';

const localEndpoint = (): string => `http://127.0.0.1:${process.env.WEFT_S3_PORT ?? 4569}`;

export interface IngestTarget {
  client: S3Client;
  bucket: string;
  description: string;
  local: boolean;
}

export const ingestTarget = (opts: { bucket?: string; endpoint?: string }): IngestTarget => {
  if (opts.endpoint) {
    const bucket = opts.bucket ?? LOCAL_BUCKET;
    const isLocal = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(opts.endpoint);
    return {
      // Local stand-ins accept the dummy keys; a remote S3-compatible endpoint gets the caller's.
      client: new S3Client({ endpoint: opts.endpoint, forcePathStyle: true, region: process.env.AWS_REGION ?? LOCAL_REGION, ...(isLocal ? { credentials: LOCAL_CREDENTIALS } : {}) }),
      bucket,
      description: `s3://${bucket} at ${opts.endpoint}`,
      local: isLocal,
    };
  }
  if (opts.bucket) return { client: new S3Client({}), bucket: opts.bucket, description: `s3://${opts.bucket} (AWS)`, local: false };
  const endpoint = localEndpoint();
  return {
    client: new S3Client({ endpoint, forcePathStyle: true, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
    bucket: LOCAL_BUCKET,
    description: `s3://${LOCAL_BUCKET} on the local stack (${endpoint})`,
    local: true,
  };
};

const formatBytes = (n: number): string => (n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`);

const run = async (dir: string, opts: IngestOptions): Promise<number> => {
  if (opts.vendor !== undefined && !ID_PATTERN.test(opts.vendor)) {
    console.error(`weft ingest: invalid vendor "${opts.vendor}": must match ${ID_PATTERN.source}`);
    return 2;
  }
  const concurrency = Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    console.error(`weft ingest: --concurrency must be a positive integer`);
    return 2;
  }
  let scan;
  try {
    scan = scanCatalog(dir, { vendor: opts.vendor });
  } catch (error) {
    console.error(`weft ingest: ${describeError(error)}`);
    return 2;
  }
  for (const skip of scan.skipped) console.error(`skipped ${skip.path}: ${skip.reason}`);
  if (scan.files.length === 0) {
    const shape = opts.vendor ? '<productId>/{product.json,images/*}' : '<vendor>/<productId>/{product.json,images/*}';
    console.error(`weft ingest: nothing to upload in ${dir} (expected ${shape})`);
    return 1;
  }
  const products = new Set(scan.files.map((f) => f.key.split('/').slice(0, 2).join('/')));
  const target = ingestTarget(opts);
  if (opts.dryRun) {
    for (const file of scan.files) console.log(`${file.path} -> s3://${target.bucket}/${file.key}`);
    console.log(`${scan.files.length} files, ${products.size} products (dry run: nothing uploaded to ${target.description})`);
    return 0;
  }
  try {
    await target.client.send(new HeadBucketCommand({ Bucket: target.bucket }));
  } catch (error) {
    const hint = target.local ? ' Is the local stack running (npm start)?' : '';
    console.error(`weft ingest: cannot reach ${target.description}: ${describeError(error) || (error as Error).name}.${hint}`);
    return 1;
  }

  const bar = new SingleBar({ format: 'uploading [{bar}] {value}/{total} files | {key}', hideCursor: true, clearOnComplete: false }, Presets.shades_classic);
  bar.start(scan.files.length, 0, { key: '' });
  const started = Date.now();
  const result = await uploadFiles(target.client, target.bucket, scan.files, {
    concurrency,
    onProgress: (done, file) => bar.update(done, { key: file.key }),
  });
  bar.stop();
  target.client.destroy();

  const seconds = (Date.now() - started) / 1000;
  console.log(
    `uploaded ${result.uploaded.length} of ${scan.files.length} files (${formatBytes(result.bytes)}) for ${products.size} products to ${target.description} in ${seconds.toFixed(1)} s` +
      (scan.skipped.length > 0 ? `; skipped ${scan.skipped.length} files outside the layout` : ''),
  );
  for (const { file, error } of result.failed) console.error(`failed ${file.path}: ${error}`);
  if (target.local && result.uploaded.length > 0) {
    const [first] = [...products];
    console.log(`tagging runs in the background; e.g. curl http://127.0.0.1:${process.env.WEFT_API_PORT ?? 3000}/products/${first}`);
  }
  return result.failed.length > 0 ? 1 : 0;
};

export const register = (program: Command): void => {
  program
    .command('ingest')
    .description('upload a catalog folder (<productId>/{product.json,images/*}, or <vendor>/<productId>/... without --vendor) to the uploads bucket')
    .argument('<dir>', 'catalog folder')
    .option('--vendor <vendor>', 'vendor id for every product in <dir> (then <dir> holds product folders directly)')
    .option('--bucket <bucket>', 'upload to this bucket in AWS (default: weft-uploads on the local stack)')
    .option('--endpoint <url>', 'S3 endpoint to use instead (e.g. another local port)')
    .option('--concurrency <n>', 'uploads in flight', '8')
    .option('--dry-run', 'list what would be uploaded')
    .action(async (dir: string, opts: IngestOptions) => {
      process.exitCode = await run(dir, opts);
    });
};
