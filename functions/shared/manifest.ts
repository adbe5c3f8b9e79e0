/**
 * The model manifest is the contract between models/ (Python, which writes it) and the pipeline
 * (which reads it). Every task name and label the TypeScript side knows comes from here.
 * See models/README.md and ARCHITECTURE.md ("Model artifacts") for the folder layout.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';

const Datatype = z.enum(['UINT8', 'INT64', 'INT32', 'FP32', 'FP16', 'BOOL']);
export type Datatype = z.infer<typeof Datatype>;

const TensorSpec = z.object({
  name: z.string().min(1),
  datatype: Datatype,
  /** -1 marks a dynamic dimension (the batch, and for text the sequence length if dynamic). */
  shape: z.array(z.number().int()),
});
export type TensorSpec = z.infer<typeof TensorSpec>;

const OutputSpec = TensorSpec.extend({ task: z.string().min(1) });

const TaskSpec = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/),
  labels: z.array(z.string().min(1)).min(2),
});
export type TaskSpec = z.infer<typeof TaskSpec>;

const ImagePreprocessing = z.object({
  viewSize: z.number().int().positive().default(224),
  centerCropFraction: z.number().gt(0).lte(1).default(0.4),
  /** RGB the downsampled view is letterboxed on and alpha is flattened onto. */
  background: z.tuple([z.number().int(), z.number().int(), z.number().int()]).default([255, 255, 255]),
  /** Input tensor name for each view. */
  views: z.object({ downsampled: z.string(), center: z.string() }).default({ downsampled: 'downsampled', center: 'center' }),
});

const TextPreprocessing = z.object({
  /** `client`: the caller tokenizes with the shipped tokenizer and sends token ids. */
  tokenization: z.enum(['client']),
  /** Path of tokenizer.json relative to the manifest. */
  tokenizer: z.string(),
  /** tokenizer_config.json, relative to the manifest (lower-casing, special tokens). */
  tokenizerConfig: z.string().optional(),
  maxLength: z.number().int().positive(),
  /** product.json fields joined (in this order) into the text the model sees. */
  fields: z.array(z.string()).min(1).default(['title', 'description', 'brand']),
});

export const ManifestSchema = z
  .object({
    schemaVersion: z.literal(1),
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
    version: z.string().min(1),
    modality: z.enum(['image', 'text']),
    tasks: z.array(TaskSpec).min(1),
    /** Path of the ONNX graph relative to the manifest (inside the Triton repository). */
    onnx: z.string(),
    inputs: z.array(TensorSpec).min(1),
    outputs: z.array(OutputSpec).min(1),
    preprocessing: z.object({ image: ImagePreprocessing.optional(), text: TextPreprocessing.optional() }),
    triton: z.object({ repository: z.string(), modelName: z.string(), maxBatchSize: z.number().int().positive() }),
  })
  .superRefine((m, ctx) => {
    const tasks = new Set(m.tasks.map((t) => t.name));
    for (const out of m.outputs) {
      if (!tasks.has(out.task)) ctx.addIssue({ code: 'custom', message: `output ${out.name} names unknown task ${out.task}` });
    }
    for (const task of m.tasks) {
      if (!m.outputs.some((o) => o.task === task.name)) ctx.addIssue({ code: 'custom', message: `task ${task.name} has no output` });
    }
    if (m.modality === 'image' && !m.preprocessing.image) ctx.addIssue({ code: 'custom', message: 'image model needs preprocessing.image' });
    if (m.modality === 'text' && !m.preprocessing.text) ctx.addIssue({ code: 'custom', message: 'text model needs preprocessing.text' });
  });

export type Manifest = z.infer<typeof ManifestSchema>;

export interface LoadedManifest extends Manifest {
  /** Absolute folder of the manifest; relative paths inside resolve against it. */
  dir: string;
}

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

export const parseManifest = (json: unknown, source: string): Manifest => {
  const result = ManifestSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ManifestError(`invalid model manifest ${source}: ${problems}`);
  }
  return result.data;
};

/** Both model files are read at cold start: a missing or broken one must say which file it is. */
const readJsonFile = (file: string, what: string): unknown => {
  if (!existsSync(file)) throw new ManifestError(`${what} not found: ${file}`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ManifestError(`${what} ${file} is not valid JSON: ${(error as Error).message}`);
  }
};

export const loadManifest = (path: string): LoadedManifest => {
  const file = resolve(path);
  return { ...parseManifest(readJsonFile(file, 'model manifest'), file), dir: dirname(file) };
};

export const manifestPath = (manifest: LoadedManifest, relative: string): string => join(manifest.dir, relative);

/**
 * Ensemble configuration fitted on validation predictions by models/ (ensemble.json beside the
 * model folders): per task, the weight of each source kind and the confidence below which the
 * merged attribute abstains.
 */
export const EnsembleConfigSchema = z.object({
  schemaVersion: z.literal(1),
  models: z.record(z.string(), z.string()).default({}),
  /** Used for any task not listed under `tasks`. */
  defaults: z.object({
    weights: z.record(z.string(), z.number().nonnegative()),
    threshold: z.number().min(0).max(1).default(0),
  }),
  tasks: z
    .record(
      z.string(),
      z.object({
        weights: z.record(z.string(), z.number().nonnegative()),
        threshold: z.number().min(0).max(1).default(0),
      }),
    )
    .default({}),
});
export type EnsembleConfig = z.infer<typeof EnsembleConfigSchema>;

export const loadEnsembleConfig = (path: string): EnsembleConfig => {
  const file = resolve(path);
  const result = EnsembleConfigSchema.safeParse(readJsonFile(file, 'ensemble config'));
  if (!result.success) throw new ManifestError(`invalid ensemble config ${file}: ${result.error.message}`);
  return result.data;
};

/**
 * The models folder holds `image/`, `text/` and `ensemble.json`. Locally it defaults to the
 * trained artifacts when they exist and to the committed fixtures otherwise; in Lambda the CDK
 * bundle sets WEFT_MODELS_DIR.
 */
export const resolveModelsDir = (env: NodeJS.ProcessEnv = process.env, root = process.cwd()): string => {
  if (env.WEFT_MODELS_DIR) return resolve(env.WEFT_MODELS_DIR);
  const trained = resolve(root, 'models/artifacts');
  if (existsSync(join(trained, 'image/manifest.json')) && existsSync(join(trained, 'text/manifest.json'))) return trained;
  return resolve(root, 'models/artifacts/fixtures');
};
