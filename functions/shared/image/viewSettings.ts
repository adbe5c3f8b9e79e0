/**
 * Preprocessing settings for tools outside a handler (CLI, benchmark): taken from the image
 * model manifest of the models folder, so views made for inspection or training data match the
 * ones the deployed model is served with.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ManifestSchema, loadManifest, resolveModelsDir, type ViewSpec } from '../manifest.js';
import type { PrepareViewsOptions } from './prepareViews.js';

export const DEFAULT_MAX_INPUT_PIXELS = 80_000_000;

export interface ViewSettings extends PrepareViewsOptions {
  /** Manifest the settings came from, or undefined when the schema defaults were used. */
  manifest?: string;
  /** The image model's declared views, in its input order. */
  views: ViewSpec[];
}

export const maxInputPixelsFromEnv = (env: NodeJS.ProcessEnv = process.env): number => {
  const value = Number(env.WEFT_MAX_INPUT_PIXELS);
  return Number.isInteger(value) && value > 0 ? value : DEFAULT_MAX_INPUT_PIXELS;
};

export const loadViewSettings = (env: NodeJS.ProcessEnv = process.env, root = process.cwd()): ViewSettings => {
  const file = join(resolveModelsDir(env, root), 'image', 'manifest.json');
  const maxInputPixels = maxInputPixelsFromEnv(env);
  if (existsSync(file)) {
    const image = loadManifest(file).preprocessing.image;
    if (image) return { viewSize: image.viewSize, centerCropFraction: image.centerCropFraction, background: image.background, maxInputPixels, manifest: file, views: image.views };
  }
  // No image model yet (fresh clone before models/ exported anything): the contract's defaults.
  const defaults = ManifestSchema.shape.preprocessing.shape.image.unwrap().parse({});
  return { viewSize: defaults.viewSize, centerCropFraction: defaults.centerCropFraction, background: defaults.background, maxInputPixels, views: defaults.views };
};
