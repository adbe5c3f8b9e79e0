/**
 * Every model folder (one with a manifest.json) directly under the models dir, keyed by the
 * manifest's name, which is also its endpoint name (SageMaker) and model name (v2 paths).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OnnxModel, type ModelOptions } from './OnnxModel.js';

export const findManifests = (modelsDir: string): string[] => {
  if (!existsSync(modelsDir)) return [];
  return readdirSync(modelsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(modelsDir, entry.name, 'manifest.json'))
    .filter((file) => existsSync(file))
    .sort();
};

export const loadModels = async (modelsDir: string, opts: ModelOptions = {}): Promise<Map<string, OnnxModel>> => {
  const models = new Map<string, OnnxModel>();
  for (const file of findManifests(modelsDir)) {
    const model = await OnnxModel.load(file, opts);
    if (models.has(model.name)) throw new Error(`two model folders under ${modelsDir} declare the name ${model.name}`);
    models.set(model.name, model);
  }
  return models;
};
