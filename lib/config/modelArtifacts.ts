/**
 * Locates the exported model folder (ARCHITECTURE.md "Model artifacts") for deployment: the
 * manifests, tokenizer and ensemble.json travel inside the Lambda bundles, and each model's
 * Triton repository becomes the SageMaker model data.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadManifest, resolveModelsDir, type LoadedManifest } from '../../functions/shared/manifest.js';

/** Repository root (lib/config/ → ../..), independent of the directory cdk is run from. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export const MODALITIES = ['image', 'text'] as const;
export type Modality = (typeof MODALITIES)[number];

export interface ModelArtifact {
  readonly modality: Modality;
  readonly manifest: LoadedManifest;
  /** Folder holding `<modelName>/config.pbtxt` and `<modelName>/<version>/model.onnx`. */
  readonly tritonRepository: string;
}

export interface ModelArtifacts {
  readonly dir: string;
  readonly models: Readonly<Record<Modality, ModelArtifact>>;
  /** Files (relative to `dir`) the functions need at run time: manifests, tokenizer, ensemble.json. */
  readonly runtimeFiles: readonly string[];
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
  const ensemble = join(dir, 'ensemble.json');
  if (!existsSync(ensemble)) throw new ModelArtifactsError(`ensemble config missing: ${ensemble}`);
  const runtimeFiles = [
    ...MODALITIES.flatMap((modality) => listRuntimeFiles(dir, models[modality])),
    'ensemble.json',
  ].sort();
  return { dir, models, runtimeFiles };
};

const loadModel = (dir: string, modality: Modality): ModelArtifact => {
  const manifest = loadManifest(join(dir, modality, 'manifest.json'));
  if (manifest.modality !== modality) {
    throw new ModelArtifactsError(`${join(dir, modality, 'manifest.json')} declares modality ${manifest.modality}, expected ${modality}`);
  }
  const tritonRepository = join(manifest.dir, manifest.triton.repository);
  const config = join(tritonRepository, manifest.triton.modelName, 'config.pbtxt');
  if (!existsSync(config)) {
    throw new ModelArtifactsError(`Triton repository for ${manifest.name} lacks ${config}; re-export the model`);
  }
  return { modality, manifest, tritonRepository };
};

/** Everything in the model folder except the Triton repository (the graph is served by SageMaker). */
const listRuntimeFiles = (root: string, model: ModelArtifact): string[] => {
  const files: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder)) {
      const path = join(folder, entry);
      if (path === model.tritonRepository) continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (!entry.endsWith('.onnx')) files.push(relative(root, path).split(sep).join('/'));
    }
  };
  walk(model.manifest.dir);
  return files;
};
