/**
 * The model folders of a models dir (image/, text/, detector/; each with a manifest.json), keyed
 * by the manifest's name, which is also its endpoint name (SageMaker) and model name (v2 paths).
 * Other folders beside them (such as a fixture kept for a test) are not part of the models folder
 * contract and are not served.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OnnxModel, type ModelOptions } from './OnnxModel.js';

/** The folders of the models folder contract (ARCHITECTURE.md, "Model artifacts"), each a model. */
export const MODEL_FOLDERS = ['detector', 'image', 'text'] as const;

export const findManifests = (modelsDir: string): string[] =>
  MODEL_FOLDERS.map((folder) => join(modelsDir, folder, 'manifest.json')).filter((file) => existsSync(file));

export const loadModels = async (modelsDir: string, opts: ModelOptions = {}): Promise<Map<string, OnnxModel>> => {
  const models = new Map<string, OnnxModel>();
  for (const file of findManifests(modelsDir)) {
    const model = await OnnxModel.load(file, opts);
    if (models.has(model.name)) throw new Error(`two model folders under ${modelsDir} declare the name ${model.name}`);
    models.set(model.name, model);
  }
  return models;
};
