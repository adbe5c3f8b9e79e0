/**
 * Locates the exported model folder (ARCHITECTURE.md "Model artifacts") for deployment: the
 * manifests, tokenizer and ensemble.json travel inside the Lambda bundles, and each model's
 * Triton repository becomes the SageMaker model data.
 */
import { existsSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManifestError, loadDetectorManifest, loadManifest, resolveModelsDir, type LoadedManifest } from '../../functions/shared/manifest.js';
import { loadTaxonomyMapping, resolveTaxonomyFile } from '../../functions/shared/taxonomy/mapping.js';

/** Repository root (lib/config/ → ../..), independent of the directory cdk is run from. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export const MODALITIES = ['image', 'text'] as const;
export type Modality = (typeof MODALITIES)[number];

export interface ModelArtifact {
  readonly modality: Modality | 'detector';
  readonly manifest: LoadedManifest;
  /** Folder holding `<modelName>/config.pbtxt` and `<modelName>/<version>/model.onnx`. */
  readonly tritonRepository: string;
}

export interface ModelArtifacts {
  readonly dir: string;
  readonly models: Readonly<Record<Modality, ModelArtifact>>;
  /** The garment detector (`detector/`), present when the image manifest declares one: a third endpoint. */
  readonly detector?: ModelArtifact;
  /** Files (relative to `dir`) the functions read at run time: manifests, tokenizer files, ensemble.json. */
  readonly runtimeFiles: readonly string[];
  /**
   * The taxonomy mapping of these models (absolute; the fixtures use the artifacts' file), copied
   * into the bundles as `taxonomy.json` beside the manifests. Absent: the API serves no taxonomy ids.
   */
  readonly taxonomyFile?: string;
}

export class ModelArtifactsError extends Error {
  override readonly name = 'ModelArtifactsError';
}

/** `explicitDir` (context `modelsDir`) wins; otherwise trained artifacts if present, else fixtures. */
export const loadModelArtifacts = (explicitDir?: string): ModelArtifacts => {
  const dir = explicitDir ? resolve(REPO_ROOT, explicitDir) : resolveModelsDir({}, REPO_ROOT);
  if (!existsSync(dir)) {
    throw new ModelArtifactsError(`models folder ${dir} does not exist; export models (models/README.md) or pass -c modelsDir=<folder>`);
  }
  const models = Object.fromEntries(MODALITIES.map((modality) => [modality, loadModel(dir, modality)])) as Record<Modality, ModelArtifact>;
  const detector = loadDetector(dir, models.image.manifest);
  const ensemble = join(dir, 'ensemble.json');
  if (!existsSync(ensemble)) throw new ModelArtifactsError(`ensemble config missing: ${ensemble}`);
  const runtimeFiles = [
    ...[...MODALITIES.map((modality) => models[modality]), ...(detector ? [detector] : [])].flatMap((model) => listRuntimeFiles(dir, model)),
    'ensemble.json',
  ].sort();
  const taxonomyFile = resolveTaxonomyFile(dir, {});
  // A broken mapping fails the synth, not the deployed function's first request.
  if (taxonomyFile) loadTaxonomyMapping(taxonomyFile);
  return { dir, models, runtimeFiles, ...(detector ? { detector } : {}), ...(taxonomyFile ? { taxonomyFile } : {}) };
};

/** Only a declared detector is deployed; the functions load it through the same check (loadModelSet). */
const loadDetector = (dir: string, image: LoadedManifest): ModelArtifact | undefined => {
  if (!image.preprocessing.image?.detector) return undefined;
  let manifest: LoadedManifest | undefined;
  try {
    manifest = loadDetectorManifest(dir, image);
  } catch (error) {
    if (error instanceof ManifestError) throw new ModelArtifactsError(error.message);
    throw error;
  }
  return manifest && withTritonRepository(manifest, 'detector');
};

const loadModel = (dir: string, modality: Modality): ModelArtifact => {
  const manifest = loadManifest(join(dir, modality, 'manifest.json'));
  if (manifest.modality !== modality) {
    throw new ModelArtifactsError(`${join(dir, modality, 'manifest.json')} declares modality ${manifest.modality}, expected ${modality}`);
  }
  return withTritonRepository(manifest, modality);
};

const withTritonRepository = (manifest: LoadedManifest, modality: ModelArtifact['modality']): ModelArtifact => {
  const tritonRepository = join(manifest.dir, manifest.triton.repository);
  const config = join(tritonRepository, manifest.triton.modelName, 'config.pbtxt');
  if (!existsSync(config)) {
    throw new ModelArtifactsError(`Triton repository for ${manifest.name} lacks ${config}; re-export the model`);
  }
  return { modality, manifest, tritonRepository };
};

/**
 * Exactly the files the functions read: each manifest and what it references for client-side
 * preprocessing (tokenizer). Checkpoints or reports that share the folder stay out of the bundles.
 */
const listRuntimeFiles = (root: string, model: ModelArtifact): string[] => {
  const { manifest } = model;
  const referenced = [manifest.preprocessing.text?.tokenizer, manifest.preprocessing.text?.tokenizerConfig].filter((f): f is string => !!f);
  const files = [join(manifest.dir, 'manifest.json'), ...referenced.map((file) => join(manifest.dir, file))];
  for (const file of files) {
    if (!existsSync(file)) throw new ModelArtifactsError(`${manifest.name}: ${file} is referenced by its manifest but missing`);
  }
  return files.map((file) => relative(root, file).split(sep).join('/'));
};
