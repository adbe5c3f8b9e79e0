/**
 * Runtime configuration of the pipeline functions, read from the environment (ARCHITECTURE.md,
 * "Runtime configuration") when a handler first runs, never at import: tests and the local
 * runtime set the variables after importing the handlers.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadDetectorManifest, loadEnsembleConfig, loadManifest, resolveModelsDir, type EnsembleConfig, type LoadedManifest } from '../manifest.js';
import { taskCatalog, type TaskCatalog } from '../products/ensemble.js';

export interface PipelineConfig {
  bucket: string;
  tableName: string;
  modelsDir: string;
  imageEndpointName: string;
  textEndpointName: string;
  /** The garment detector's endpoint (a real-time endpoint in every inference mode). */
  detectorEndpointName: string;
  maxInputPixels: number;
  maxObjectBytes: number;
  /** `realtime` (InvokeEndpoint, the default and what runs locally) or `async` (InvokeEndpointAsync). */
  inferenceMode: InferenceModeName;
  /** Async mode: bucket for request payloads (`requests/<endpoint>/`) and results. */
  asyncInferenceBucket?: string;
}

export type InferenceModeName = 'realtime' | 'async';

const inferenceMode = (env: NodeJS.ProcessEnv): Pick<PipelineConfig, 'inferenceMode' | 'asyncInferenceBucket'> => {
  const mode = env.WEFT_INFERENCE_MODE || 'realtime';
  if (mode !== 'realtime' && mode !== 'async') throw new Error(`WEFT_INFERENCE_MODE must be realtime or async, got "${mode}"`);
  if (mode === 'realtime') return { inferenceMode: mode };
  const bucket = env.WEFT_ASYNC_INFERENCE_BUCKET;
  if (!bucket) throw new Error('WEFT_INFERENCE_MODE=async needs WEFT_ASYNC_INFERENCE_BUCKET (the async inference I/O bucket)');
  return { inferenceMode: mode, asyncInferenceBucket: bucket };
};

const positiveInt = (env: NodeJS.ProcessEnv, name: string, fallback: number): number => {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
};

export const readConfig = (env: NodeJS.ProcessEnv = process.env): PipelineConfig => ({
  bucket: env.UPLOADS_BUCKET || 'weft-uploads',
  tableName: env.TABLE_NAME || 'weft-products',
  modelsDir: resolveModelsDir(env),
  imageEndpointName: env.IMAGE_ENDPOINT_NAME || 'weft-image',
  textEndpointName: env.TEXT_ENDPOINT_NAME || 'weft-text',
  detectorEndpointName: env.DETECTOR_ENDPOINT_NAME || 'weft-detector',
  maxInputPixels: positiveInt(env, 'WEFT_MAX_INPUT_PIXELS', 80_000_000),
  maxObjectBytes: positiveInt(env, 'WEFT_MAX_OBJECT_BYTES', 52_428_800),
  ...inferenceMode(env),
});

export interface ModelSet {
  image?: LoadedManifest;
  text?: LoadedManifest;
  /** The garment detector, present when the image manifest declares one (its garment views need it). */
  detector?: LoadedManifest;
  ensemble: EnsembleConfig;
  catalog: TaskCatalog;
}

/**
 * Used when a models folder has no ensemble.json: every source kind counts equally and nothing
 * abstains. Fitted weights replace it as soon as models/ ships the file.
 */
export const EQUAL_WEIGHTS: EnsembleConfig = {
  schemaVersion: 1,
  models: {},
  defaults: { weights: { image: 1, text: 1, rules: 1 }, threshold: 0 },
  tasks: {},
};

/**
 * Manifests and ensemble weights of a models folder; a missing modality is simply absent, except
 * the detector of an image manifest that declares one (loadDetectorManifest says which is missing).
 */
export const loadModelSet = (modelsDir: string): ModelSet => {
  const manifestFile = (modality: string) => join(modelsDir, modality, 'manifest.json');
  const image = existsSync(manifestFile('image')) ? loadManifest(manifestFile('image')) : undefined;
  const text = existsSync(manifestFile('text')) ? loadManifest(manifestFile('text')) : undefined;
  if (!image && !text) throw new Error(`no model manifests under ${modelsDir} (expected image/manifest.json and text/manifest.json)`);
  const detector = loadDetectorManifest(modelsDir, image);
  const ensembleFile = join(modelsDir, 'ensemble.json');
  const ensemble = existsSync(ensembleFile) ? loadEnsembleConfig(ensembleFile) : EQUAL_WEIGHTS;
  return { ...(image ? { image } : {}), ...(text ? { text } : {}), ...(detector && image?.preprocessing.image?.detector ? { detector } : {}), ensemble, catalog: taskCatalog([image, text].filter((m): m is LoadedManifest => !!m)) };
};

/** `weft-image@2026.11.28+demo`, the form ensemble.json uses too. */
export const modelVersion = (manifest: Pick<LoadedManifest, 'name' | 'version'>): string => `${manifest.name}@${manifest.version}`;

/**
 * Memoizes a cold-start initializer, keyed by the configuration it was built from so a test or
 * the local runtime that changes the environment gets a fresh one. A failed init is not cached.
 */
export const lazy = <T>(build: (config: PipelineConfig) => Promise<T> | T) => {
  let cached: { key: string; value: Promise<T> } | undefined;
  return (): Promise<T> => {
    const config = readConfig();
    const key = JSON.stringify(config) + (process.env.AWS_ENDPOINT_URL_DYNAMODB ?? '') + (process.env.AWS_ENDPOINT_URL_S3 ?? '') + (process.env.AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME ?? '');
    if (cached?.key !== key) {
      const value = Promise.resolve().then(() => build(config));
      cached = { key, value };
      value.catch(() => {
        if (cached?.value === value) cached = undefined;
      });
    }
    return cached.value;
  };
};
