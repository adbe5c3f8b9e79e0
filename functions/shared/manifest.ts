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

/** Image and text outputs each carry the task they score; a detector's outputs (box, score) carry none. */
const OutputSpec = TensorSpec.extend({ task: z.string().min(1).optional() });

const TaskSpec = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/),
  labels: z.array(z.string().min(1)).min(2),
});
export type TaskSpec = z.infer<typeof TaskSpec>;

const MODEL_NAME = /^[a-z0-9][a-z0-9-]*$/;

/**
 * How a view is cut from the decoded image: `whole` (fit into S×S, letterboxed on the
 * background), `center` (the central `centerCropFraction` of each side) or `garment` (the
 * detector's box, padded and squared).
 */
export const VIEW_KINDS = ['whole', 'center', 'garment'] as const;
export type ViewKind = (typeof VIEW_KINDS)[number];

/** Padding of a garment view that does not set one: 10 % of the box's width and height per side. */
export const DEFAULT_GARMENT_PADDING = 0.1;

const DeclaredView = z.object({
  /** The view's name in `derived/` keys and in the API; a key segment, so kept plain. */
  name: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'view names are lower-case letters, digits, _ and -'),
  /** The image-model input tensor the view feeds. */
  input: z.string().min(1),
  kind: z.enum(VIEW_KINDS),
  /** garment only: fraction of the box's width and height added on each side. */
  padding: z.number().min(0).max(2).optional(),
  /** garment only: below this detector score the garment view is cut from the whole image. */
  minScore: z.number().min(0).max(1).optional(),
});

/** The two views every manifest had before views became a list; still what an object means. */
const LegacyViews = z.object({ downsampled: z.string().min(1), center: z.string().min(1) });

/** One declared view, normalized: garment views always carry their padding and minScore. */
export type ViewSpec =
  | { name: string; input: string; kind: 'whole' | 'center' }
  | { name: string; input: string; kind: 'garment'; padding: number; minScore: number };

const normalizeViews = (views: z.infer<typeof LegacyViews> | z.infer<typeof DeclaredView>[]): ViewSpec[] =>
  Array.isArray(views)
    ? views.map((v): ViewSpec =>
        v.kind === 'garment'
          ? { name: v.name, input: v.input, kind: 'garment', padding: v.padding ?? DEFAULT_GARMENT_PADDING, minScore: v.minScore ?? 0 }
          : { name: v.name, input: v.input, kind: v.kind },
      )
    : [
        { name: 'downsampled', input: views.downsampled, kind: 'whole' },
        { name: 'center', input: views.center, kind: 'center' },
      ];

const ImagePreprocessing = z
  .object({
    viewSize: z.number().int().positive().default(224),
    centerCropFraction: z.number().gt(0).lte(1).default(0.4),
    /** RGB the downsampled view is letterboxed on and alpha is flattened onto. */
    background: z.tuple([z.number().int(), z.number().int(), z.number().int()]).default([255, 255, 255]),
    /**
     * The views the model takes, in its input order: the legacy object `{downsampled, center}`
     * (input tensor name of each) or a list of {name, input, kind, padding?, minScore?}.
     * Either way consumers see the normalized list.
     */
    views: z
      .union([LegacyViews, z.array(DeclaredView).min(1)])
      .prefault({ downsampled: 'downsampled', center: 'center' })
      .superRefine((views, ctx) => {
        if (!Array.isArray(views)) return;
        const seen = { name: new Set<string>(), input: new Set<string>() };
        views.forEach((v, i) => {
          for (const field of ['name', 'input'] as const) {
            if (seen[field].has(v[field])) ctx.addIssue({ code: 'custom', path: [i, field], message: `two views share the ${field} ${v[field]}` });
            seen[field].add(v[field]);
          }
          if (v.kind !== 'garment' && (v.padding !== undefined || v.minScore !== undefined)) {
            ctx.addIssue({ code: 'custom', path: [i], message: `view ${v.name} is a ${v.kind} view; padding and minScore apply only to garment views` });
          }
        });
      })
      .transform(normalizeViews),
    /** Name of the detector manifest whose box the garment views are cut from. */
    detector: z.string().regex(MODEL_NAME).optional(),
  })
  .superRefine((image, ctx) => {
    const garment = image.views.filter((v) => v.kind === 'garment').map((v) => v.name);
    if (garment.length > 0 && !image.detector) {
      ctx.addIssue({ code: 'custom', path: ['detector'], message: `garment view ${garment.join(', ')} needs preprocessing.image.detector (the detector manifest's name)` });
    }
    if (garment.length === 0 && image.detector) {
      ctx.addIssue({ code: 'custom', path: ['detector'], message: `detector ${image.detector} is declared but no view has kind garment, so it would never be called` });
    }
  });
export type ImagePreprocessing = z.infer<typeof ImagePreprocessing>;

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

/** Which image view a detector takes, and which of its outputs hold the box and its score. */
const DetectorPreprocessing = z.object({
  view: z.string().min(1),
  box: z.string().min(1),
  score: z.string().min(1),
});
export type DetectorPreprocessing = z.infer<typeof DetectorPreprocessing>;

const sameShape = (a: number[], b: number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

export const ManifestSchema = z
  .object({
    schemaVersion: z.literal(1),
    name: z.string().regex(MODEL_NAME),
    version: z.string().min(1),
    modality: z.enum(['image', 'text', 'detector']),
    /** At least one for image and text models; empty for a detector. */
    tasks: z.array(TaskSpec),
    /** Path of the ONNX graph relative to the manifest (inside the Triton repository). */
    onnx: z.string(),
    inputs: z.array(TensorSpec).min(1),
    outputs: z.array(OutputSpec).min(1),
    preprocessing: z.object({ image: ImagePreprocessing.optional(), text: TextPreprocessing.optional(), detector: DetectorPreprocessing.optional() }),
    triton: z.object({ repository: z.string(), modelName: z.string(), maxBatchSize: z.number().int().positive() }),
  })
  .superRefine((m, ctx) => {
    const issue = (message: string, path: (string | number)[] = []) => ctx.addIssue({ code: 'custom', message, path });
    if (m.modality === 'detector') {
      if (m.tasks.length > 0) issue(`a detector has no tasks, found ${m.tasks.map((t) => t.name).join(', ')}`, ['tasks']);
      for (const out of m.outputs) if (out.task !== undefined) issue(`detector output ${out.name} names task ${out.task}; detector outputs carry no task`, ['outputs']);
      const detector = m.preprocessing.detector;
      if (!detector) {
        issue('detector model needs preprocessing.detector ({view, box, score})', ['preprocessing']);
      } else {
        const outputs = m.outputs.map((o) => o.name);
        for (const field of ['box', 'score'] as const) {
          if (!outputs.includes(detector[field])) issue(`preprocessing.detector.${field} names ${detector[field]}, not among the outputs (${outputs.join(', ')})`, ['preprocessing', 'detector', field]);
        }
        const box = m.outputs.find((o) => o.name === detector.box);
        if (box && (box.datatype !== 'FP32' || !sameShape(box.shape, [-1, 4]))) issue(`box output ${box.name} must be FP32 [-1, 4] ([x, y, w, h] per row)`, ['outputs']);
        const score = m.outputs.find((o) => o.name === detector.score);
        if (score && score.datatype !== 'FP32') issue(`score output ${score.name} must be FP32`, ['outputs']);
      }
      if (m.inputs.length !== 1) issue(`a detector takes one input (the ${detector?.view ?? 'downsampled'} view), found ${m.inputs.length}`, ['inputs']);
      return;
    }
    if (m.tasks.length === 0) issue(`${m.modality} model needs at least one task`, ['tasks']);
    const tasks = new Set(m.tasks.map((t) => t.name));
    for (const out of m.outputs) {
      if (out.task === undefined) issue(`output ${out.name} names no task`, ['outputs']);
      else if (!tasks.has(out.task)) issue(`output ${out.name} names unknown task ${out.task}`);
    }
    for (const task of m.tasks) {
      if (!m.outputs.some((o) => o.task === task.name)) issue(`task ${task.name} has no output`);
    }
    if (m.modality === 'image' && !m.preprocessing.image) issue('image model needs preprocessing.image');
    if (m.modality === 'text' && !m.preprocessing.text) issue('text model needs preprocessing.text');
    const image = m.modality === 'image' ? m.preprocessing.image : undefined;
    if (image) {
      const inputs = m.inputs.map((i) => i.name);
      image.views.forEach((view, i) => {
        if (!inputs.includes(view.input)) issue(`view ${view.name} feeds input ${view.input}, not among the model inputs (${inputs.join(', ')})`, ['preprocessing', 'image', 'views', i]);
      });
      for (const input of m.inputs) {
        if (!image.views.some((v) => v.input === input.name)) issue(`input ${input.name} is fed by no view in preprocessing.image.views`, ['inputs']);
      }
    }
  });

export type Manifest = z.infer<typeof ManifestSchema>;

/** The outputs that score a task (all of an image or text model's; none of a detector's). */
export const taskOutputs = (manifest: Pick<Manifest, 'outputs'>): (TensorSpec & { task: string })[] =>
  manifest.outputs.flatMap((o) => (o.task === undefined ? [] : [{ ...o, task: o.task }]));

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
 * The detector's box is cut into the image model's garment views, so the two manifests must
 * agree: the image manifest names the detector, and the detector takes one of its whole views
 * at the image model's view size.
 */
export const checkDetectorPair = (image: Manifest, detector: Manifest, source: string): void => {
  const problems: string[] = [];
  const pre = image.preprocessing.image;
  if (detector.modality !== 'detector') problems.push(`declares modality ${detector.modality}, expected detector`);
  if (pre?.detector !== undefined && detector.name !== pre.detector) problems.push(`is named ${detector.name}, but image model ${image.name} declares detector ${pre.detector}`);
  const wanted = detector.preprocessing.detector?.view;
  if (pre && wanted !== undefined) {
    const view = pre.views.find((v) => v.name === wanted);
    if (!view) problems.push(`takes view ${wanted}, which image model ${image.name} does not declare (views: ${pre.views.map((v) => v.name).join(', ')})`);
    else if (view.kind !== 'whole') problems.push(`takes view ${wanted}, a ${view.kind} view; the detector's box is read in the coordinates of a whole (letterboxed) view`);
    const input = detector.inputs[0];
    const expected = [-1, pre.viewSize, pre.viewSize, 3];
    if (input && (input.datatype !== 'UINT8' || !sameShape(input.shape, expected))) {
      problems.push(`input ${input.name} is ${input.datatype} [${input.shape.join(', ')}], expected UINT8 [${expected.join(', ')}] (the image model's view size)`);
    }
  }
  if (problems.length > 0) throw new ManifestError(`detector manifest ${source} ${problems.join('; ')}`);
};

/**
 * `detector/manifest.json` of a models folder: optional, but required once the image manifest
 * declares a detector (its garment views cannot be cut without one). A declared detector is
 * checked against the image manifest; an undeclared one is only validated on its own.
 */
export const loadDetectorManifest = (modelsDir: string, image: Manifest | undefined): LoadedManifest | undefined => {
  const file = join(modelsDir, 'detector', 'manifest.json');
  const declared = image?.preprocessing.image?.detector;
  if (!existsSync(file)) {
    if (declared) throw new ManifestError(`image model ${image!.name} declares detector ${declared}, but ${file} does not exist (export the detector into detector/)`);
    return undefined;
  }
  const detector = loadManifest(file);
  if (detector.modality !== 'detector') throw new ManifestError(`${file} declares modality ${detector.modality}, expected detector`);
  if (image && declared) checkDetectorPair(image, detector, file);
  return detector;
};

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
 * The models folder holds `image/`, `text/`, `ensemble.json` and, for an image model with a
 * garment view, `detector/`. Locally it defaults to the
 * trained artifacts when they exist and to the committed fixtures otherwise; in Lambda the CDK
 * bundle sets WEFT_MODELS_DIR.
 */
export const resolveModelsDir = (env: NodeJS.ProcessEnv = process.env, root = process.cwd()): string => {
  if (env.WEFT_MODELS_DIR) return resolve(env.WEFT_MODELS_DIR);
  const trained = resolve(root, 'models/artifacts');
  if (existsSync(join(trained, 'image/manifest.json')) && existsSync(join(trained, 'text/manifest.json'))) return trained;
  return resolve(root, 'models/artifacts/fixtures');
};
