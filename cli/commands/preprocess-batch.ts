/**
 * `weft preprocess-batch --list <paths.txt> --out <views.u8>`: the model views of many images
 * in one process, for training data. Uses the same decode and view cuts as serving, so the model
 * trains on exactly the pixels it will be served.
 *
 * Output: `<out>` holds raw uint8 of shape (N, V, S, S, 3) — per image the requested views
 * (`--views`, default the image manifest's declared views) in that order, RGB — and `<out>.json`
 * = {count, viewSize, centerCropFraction, views, garmentPadding?, errors, rows}. `rows[i]` is
 * {width, height, letterbox: [x, y, w, h]}: the oriented source size and the normalized content
 * rectangle of the whole (downsampled) view, so a caller converts between view and image
 * coordinates with exactly the geometry sharp used; null for a failed row. A row whose image
 * fails is left zero-filled and listed in `errors` with its index; the run goes on. List lines
 * are image paths (relative ones resolve against the working directory); blank lines are
 * skipped and do not count as rows.
 *
 * A garment view is cut from the caller's box (`--boxes`, one JSON line per list row in image
 * coordinates, `null` for the whole image): the detector's minScore does not apply here.
 */
import { open, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import sharp from 'sharp';
import { describeError, isPermanent } from '../../functions/shared/errors.js';
import { cutView, decodeImage, detailFraction, garmentBox, letterboxBox, type ImageBox } from '../../functions/shared/image/prepareViews.js';
import { loadViewSettings } from '../../functions/shared/image/viewSettings.js';
import { DEFAULT_GARMENT_PADDING, type ViewKind, type ViewSpec } from '../../functions/shared/manifest.js';

interface Options {
  list: string;
  out: string;
  viewSize?: string;
  centerFraction?: string;
  views?: string;
  boxes?: string;
  garmentPadding?: string;
  concurrency: string;
  quiet?: boolean;
}

/** The view names the command knows without a manifest declaring them. */
const STANDARD_VIEWS: Record<string, ViewKind> = { downsampled: 'whole', center: 'center', garment: 'garment' };

const positive = (value: string, name: string, integer: boolean): number => {
  const n = Number(value);
  if (!(n > 0) || (integer && !Number.isInteger(n))) throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
  return n;
};

const nonBlankLines = (text: string): string[] =>
  text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');

/**
 * The requested views as specs: a name the manifest declares takes its spec, a standard name
 * (downsampled, center, garment) its kind. A garment view's padding: `padding` when given (the
 * command line), else the declared view's, else the manifest's first garment view's, else the default.
 */
export const resolveViews = (names: string[], declared: ViewSpec[], padding?: number): ViewSpec[] => {
  const known = [...new Set([...declared.map((v) => v.name), ...Object.keys(STANDARD_VIEWS)])];
  const firstGarment = declared.find((v) => v.kind === 'garment');
  const fallbackPadding = firstGarment?.kind === 'garment' ? firstGarment.padding : DEFAULT_GARMENT_PADDING;
  const seen = new Set<string>();
  return names.map((name): ViewSpec => {
    if (seen.has(name)) throw new Error(`--views names ${name} twice`);
    seen.add(name);
    const spec = declared.find((v) => v.name === name);
    const kind = spec?.kind ?? STANDARD_VIEWS[name];
    if (!kind) throw new Error(`--views: unknown view ${name} (known: ${known.join(', ')})`);
    const input = spec?.input ?? name;
    if (kind !== 'garment') return { name, input, kind };
    return { name, input, kind, padding: padding ?? (spec?.kind === 'garment' ? spec.padding : fallbackPadding), minScore: 0 };
  });
};

const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** `--boxes` lines: `{"x","y","w","h"[,"score"]}` in image coordinates, or `null` (whole image). */
export const parseBoxes = (text: string, file: string, rows: number): (ImageBox | null)[] => {
  const lines = nonBlankLines(text);
  if (lines.length !== rows) throw new Error(`--boxes ${file} has ${lines.length} boxes for ${rows} list rows; it needs one line per row`);
  return lines.map((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`--boxes ${file} box ${i + 1} is not JSON: ${line.slice(0, 80)}`);
    }
    if (value === null) return null;
    const box = value as Record<string, unknown>;
    if (typeof value !== 'object' || !(['x', 'y', 'w', 'h'] as const).every((k) => finite(box[k])) || (box.score !== undefined && !finite(box.score))) {
      throw new Error(`--boxes ${file} box ${i + 1} must be {"x","y","w","h"} numbers (image coordinates, 0..1) or null, got ${line.slice(0, 80)}`);
    }
    if ((box.w as number) < 0 || (box.h as number) < 0) throw new Error(`--boxes ${file} box ${i + 1} has a negative width or height`);
    return { x: box.x as number, y: box.y as number, w: box.w as number, h: box.h as number };
  });
};

export function register(program: Command): void {
  program
    .command('preprocess-batch')
    .description('model views of many images into one raw uint8 array (N, V, S, S, 3) plus <out>.json')
    .requiredOption('--list <paths.txt>', 'file with one image path per line')
    .requiredOption('--out <views.u8>', 'output array file; metadata goes to <out>.json')
    .option('--views <names>', 'comma-separated views in output order: downsampled, center, garment (default: image model manifest)')
    .option('--boxes <boxes.jsonl>', 'garment box per list row, {"x","y","w","h"} in image coordinates or null (required with the garment view)')
    .option('--garment-padding <fraction>', `garment box padding per side, fraction of its size (default: image model manifest, else ${DEFAULT_GARMENT_PADDING})`)
    .option('--view-size <pixels>', 'view size (default: image model manifest)')
    .option('--center-fraction <fraction>', 'center crop fraction of each side (default: image model manifest)')
    .option('--concurrency <n>', 'images decoded at once', String(Math.min(2, availableParallelism())))
    .option('--quiet', 'no progress on stderr')
    .action(async (opts: Options) => {
      const settings = loadViewSettings();
      if (opts.viewSize !== undefined) settings.viewSize = positive(opts.viewSize, 'view-size', true);
      if (opts.centerFraction !== undefined) settings.centerCropFraction = positive(opts.centerFraction, 'center-fraction', false);
      const concurrency = positive(opts.concurrency, 'concurrency', true);
      const padding = opts.garmentPadding === undefined ? undefined : Number(opts.garmentPadding);
      if (padding !== undefined && !(padding >= 0)) throw new Error(`--garment-padding must be a number ≥ 0, got ${opts.garmentPadding}`);
      const names = opts.views !== undefined ? opts.views.split(',').map((n) => n.trim()).filter((n) => n !== '') : settings.views.map((v) => v.name);
      if (names.length === 0) throw new Error('--views names no view');
      const views = resolveViews(names, settings.views, padding);
      const garmentView = views.find((v) => v.kind === 'garment');
      const garmentPadding = garmentView?.kind === 'garment' ? garmentView.padding : undefined;
      const garment = garmentPadding !== undefined;
      if (garment && opts.boxes === undefined) throw new Error(`--boxes is required with a garment view (views: ${names.join(', ')})`);
      const paths = nonBlankLines(await readFile(opts.list, 'utf8'));
      const boxes = garment ? parseBoxes(await readFile(opts.boxes!, 'utf8'), opts.boxes!, paths.length) : undefined;
      // Decoded as serving decodes for the model's views, so even a whole view alone (a detector's
      // training input) has the bytes image-ingest sends.
      const fraction = detailFraction([...settings.views, ...views], settings.centerCropFraction);
      const size = settings.viewSize;
      const viewBytes = size * size * 3;
      const rowBytes = views.length * viewBytes;

      // Images run in parallel with one libvips thread each: less contention than several
      // images each fanning out over all cores.
      sharp.concurrency(1);
      const out = resolve(opts.out);
      const file = await open(out, 'w');
      const errors: { index: number; path: string; error: string }[] = [];
      const rows: ({ width: number; height: number; letterbox: [number, number, number, number] } | null)[] = new Array(paths.length).fill(null);
      const started = performance.now();
      let done = 0;
      try {
        // Sized up front: failed rows stay zero without being written.
        await file.truncate(paths.length * rowBytes);
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < paths.length) {
            const index = next++;
            const path = paths[index]!;
            try {
              const decoded = await decodeImage(await readFile(path), settings, fraction);
              const box = boxes ? garmentBox(boxes[index], 0) : undefined;
              const cut = await Promise.all(views.map((spec) => cutView(decoded, spec, settings, box)));
              for (const [v, view] of cut.entries()) await file.write(view, 0, viewBytes, index * rowBytes + v * viewBytes);
              const lb = letterboxBox(decoded.width, decoded.height, size);
              rows[index] = { width: decoded.source.width, height: decoded.source.height, letterbox: [lb.x, lb.y, lb.w, lb.h] };
            } catch (error) {
              errors.push({ index, path, error: `${isPermanent(error) ? `${error.code}: ` : ''}${describeError(error)}` });
            }
            done++;
            if (!opts.quiet && done % 500 === 0) process.stderr.write(`preprocess-batch: ${done}/${paths.length}\n`);
          }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, paths.length)) }, worker));
      } finally {
        await file.close();
      }
      errors.sort((a, b) => a.index - b.index);
      const meta = {
        count: paths.length,
        viewSize: size,
        centerCropFraction: settings.centerCropFraction,
        views: names,
        ...(garment ? { garmentPadding } : {}),
        errors,
        rows,
      };
      await writeFile(`${out}.json`, `${JSON.stringify(meta, null, 2)}\n`);
      const seconds = (performance.now() - started) / 1000;
      if (!opts.quiet) {
        process.stderr.write(
          `preprocess-batch: ${paths.length - errors.length}/${paths.length} images (${names.join(', ')}) → ${out} (${errors.length} failed) in ${seconds.toFixed(1)} s, ${(paths.length / seconds).toFixed(1)} images/s\n`,
        );
      }
    });
}
