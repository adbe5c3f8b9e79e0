import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { ManifestError, loadDetectorManifest, loadEnsembleConfig, loadManifest, parseManifest, taskOutputs } from '../../functions/shared/manifest.js';
import { loadModelSet } from '../../functions/shared/ingest/config.js';

const dirs = ['models/artifacts', 'models/artifacts/fixtures'];
const scratch = (): string => mkdtempSync(join(tmpdir(), 'weft-manifest-'));

describe('model manifests', () => {
  it.each(dirs)('accepts the committed image, text and ensemble files in %s', (dir) => {
    const image = loadManifest(join(dir, 'image/manifest.json'));
    const text = loadManifest(join(dir, 'text/manifest.json'));
    expect(image.modality).toBe('image');
    expect(text.modality).toBe('text');
    expect(image.tasks.map((t) => t.name)).toEqual(text.tasks.map((t) => t.name));
    const ensemble = loadEnsembleConfig(join(dir, 'ensemble.json'));
    expect(Object.keys(ensemble.defaults.weights).length).toBeGreaterThan(0);
  });

  it('names the file when it is missing or not JSON', () => {
    const dir = scratch();
    expect(() => loadManifest(join(dir, 'absent.json'))).toThrow(/model manifest not found: .*absent\.json/);
    writeFileSync(join(dir, 'broken.json'), '{"schemaVersion": 1,');
    expect(() => loadManifest(join(dir, 'broken.json'))).toThrow(/model manifest .*broken\.json is not valid JSON/);
    expect(() => loadEnsembleConfig(join(dir, 'broken.json'))).toThrow(/ensemble config .*broken\.json is not valid JSON/);
  });

  it('rejects an output that names a task the manifest does not declare', () => {
    const manifest = JSON.parse(readFileSync('models/artifacts/fixtures/image/manifest.json', 'utf8'));
    manifest.outputs[0].task = 'fabric';
    const file = join(scratch(), 'manifest.json');
    writeFileSync(file, JSON.stringify(manifest));
    expect(() => loadManifest(file)).toThrow(ManifestError);
    expect(() => loadManifest(file)).toThrow(/names unknown task fabric/);
  });
});

const S = 224;
const view = (name: string) => ({ name, datatype: 'UINT8', shape: [-1, S, S, 3] });
const imageManifest = (preprocessing: Record<string, unknown>, inputs = ['downsampled', 'center', 'garment']) => ({
  schemaVersion: 1,
  name: 'weft-image',
  version: 't',
  modality: 'image',
  tasks: [{ name: 'category', labels: ['a', 'b'] }],
  onnx: 'triton/weft-image/1/model.onnx',
  inputs: inputs.map(view),
  outputs: [{ name: 'category', task: 'category', datatype: 'FP32', shape: [-1, 2] }],
  preprocessing: { image: preprocessing },
  triton: { repository: 'triton', modelName: 'weft-image', maxBatchSize: 8 },
});
const THREE_VIEWS = [
  { name: 'downsampled', input: 'downsampled', kind: 'whole' },
  { name: 'center', input: 'center', kind: 'center' },
  { name: 'garment', input: 'garment', kind: 'garment', padding: 0.2, minScore: 0.3 },
];
const detector = (overrides: Record<string, unknown> = {}) => ({
  schemaVersion: 1,
  name: 'weft-detector',
  version: 't',
  modality: 'detector',
  tasks: [],
  onnx: 'triton/weft-detector/1/model.onnx',
  inputs: [view('downsampled')],
  outputs: [
    { name: 'box', datatype: 'FP32', shape: [-1, 4] },
    { name: 'score', datatype: 'FP32', shape: [-1] },
  ],
  preprocessing: { detector: { view: 'downsampled', box: 'box', score: 'score' } },
  triton: { repository: 'triton', modelName: 'weft-detector', maxBatchSize: 32 },
  ...overrides,
});
const problems = (json: unknown): string => {
  try {
    parseManifest(json, 'test.json');
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError);
    return (error as Error).message;
  }
  throw new Error('the manifest was accepted');
};

describe('declared views', () => {
  it('normalizes the legacy object to the list every consumer reads, keeping its input names', () => {
    const m = parseManifest(imageManifest({ views: { downsampled: 'whole', center: 'detail' } }, ['whole', 'detail']), 'test');
    expect(m.preprocessing.image!.views).toEqual([
      { name: 'downsampled', input: 'whole', kind: 'whole' },
      { name: 'center', input: 'detail', kind: 'center' },
    ]);
    // no views at all: the two-view default
    expect(parseManifest(imageManifest({}, ['downsampled', 'center']), 'test').preprocessing.image!.views.map((v) => v.name)).toEqual(['downsampled', 'center']);
  });

  it('reads a list in input order, filling a garment view\'s padding and minScore defaults', () => {
    const m = parseManifest(imageManifest({ views: THREE_VIEWS, detector: 'weft-detector' }), 'test');
    expect(m.preprocessing.image!.views).toEqual(THREE_VIEWS);
    const defaults = parseManifest(imageManifest({ views: [...THREE_VIEWS.slice(0, 2), { name: 'garment', input: 'garment', kind: 'garment' }], detector: 'weft-detector' }), 'test');
    expect(defaults.preprocessing.image!.views[2]).toEqual({ name: 'garment', input: 'garment', kind: 'garment', padding: 0.1, minScore: 0 });
  });

  it('names the problem: a garment view without a detector, a detector without a garment view', () => {
    expect(problems(imageManifest({ views: THREE_VIEWS }))).toMatch(/preprocessing\.image\.detector: garment view garment needs preprocessing\.image\.detector/);
    expect(problems(imageManifest({ views: THREE_VIEWS.slice(0, 2), detector: 'weft-detector' }, ['downsampled', 'center']))).toMatch(/detector weft-detector is declared but no view has kind garment/);
  });

  it('names the problem: a view input that is not a model input, an input no view feeds', () => {
    const typo = THREE_VIEWS.map((v) => (v.name === 'garment' ? { ...v, input: 'garmnet' } : v));
    const message = problems(imageManifest({ views: typo, detector: 'weft-detector' }));
    expect(message).toMatch(/view garment feeds input garmnet, not among the model inputs \(downsampled, center, garment\)/);
    expect(message).toMatch(/input garment is fed by no view/);
    expect(problems(imageManifest({ views: { downsampled: 'downsampled', center: 'middle' } }, ['downsampled', 'center']))).toMatch(/view center feeds input middle/);
  });

  it('names the problem: duplicate names or inputs, an unknown kind, padding on a view that is not a garment view', () => {
    expect(problems(imageManifest({ views: [...THREE_VIEWS, { name: 'center', input: 'garment', kind: 'center' }], detector: 'weft-detector' }))).toMatch(/two views share the name center.*two views share the input garment/);
    expect(problems(imageManifest({ views: [{ name: 'downsampled', input: 'downsampled', kind: 'sleeve' }, ...THREE_VIEWS.slice(1)], detector: 'weft-detector' }))).toMatch(/views/);
    expect(problems(imageManifest({ views: [{ ...THREE_VIEWS[0], padding: 0.1 }, ...THREE_VIEWS.slice(1)], detector: 'weft-detector' }))).toMatch(/view downsampled is a whole view; padding and minScore apply only to garment views/);
  });
});

describe('detector manifests', () => {
  it('accepts the contract\'s detector: no tasks, outputs without a task', () => {
    const m = parseManifest(detector(), 'test');
    expect(m.modality).toBe('detector');
    expect(m.preprocessing.detector).toEqual({ view: 'downsampled', box: 'box', score: 'score' });
    expect(taskOutputs(m)).toEqual([]);
  });

  it('names the problem: tasks, outputs with a task, missing preprocessing.detector, box or score not among the outputs, a box of the wrong shape', () => {
    expect(problems(detector({ tasks: [{ name: 'category', labels: ['a', 'b'] }] }))).toMatch(/a detector has no tasks, found category/);
    expect(problems(detector({ outputs: [{ name: 'box', task: 'category', datatype: 'FP32', shape: [-1, 4] }, { name: 'score', datatype: 'FP32', shape: [-1] }] }))).toMatch(/detector output box names task category/);
    expect(problems(detector({ preprocessing: {} }))).toMatch(/detector model needs preprocessing\.detector/);
    expect(problems(detector({ preprocessing: { detector: { view: 'downsampled', box: 'boxes', score: 'score' } } }))).toMatch(/preprocessing\.detector\.box names boxes, not among the outputs \(box, score\)/);
    expect(problems(detector({ outputs: [{ name: 'box', datatype: 'FP32', shape: [-1, 2] }, { name: 'score', datatype: 'FP32', shape: [-1] }] }))).toMatch(/box output box must be FP32 \[-1, 4\]/);
  });

  it('still requires tasks and a task per output of image and text models', () => {
    expect(problems({ ...imageManifest({}, ['downsampled', 'center']), tasks: [], outputs: [] })).toMatch(/image model needs at least one task|outputs/);
    const noTask = imageManifest({}, ['downsampled', 'center']);
    noTask.outputs = [{ name: 'category', datatype: 'FP32', shape: [-1, 2] } as never];
    expect(problems(noTask)).toMatch(/output category names no task/);
  });
});

describe('models folder with a detector', () => {
  const folder = (image: unknown, det?: unknown): string => {
    const dir = scratch();
    for (const [name, manifest] of [['image', image], ['detector', det]] as const) {
      if (manifest === undefined) continue;
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'manifest.json'), JSON.stringify(manifest));
    }
    return dir;
  };
  const garmentImage = imageManifest({ views: THREE_VIEWS, detector: 'weft-detector' });

  it('loads the detector an image manifest declares', () => {
    const dir = folder(garmentImage, detector());
    expect(loadDetectorManifest(dir, loadManifest(join(dir, 'image/manifest.json')))?.name).toBe('weft-detector');
    expect(loadModelSet(dir).detector?.name).toBe('weft-detector');
  });

  it('requires detector/ once the image manifest declares a detector, and says so', () => {
    const dir = folder(garmentImage);
    expect(() => loadModelSet(dir)).toThrow(/image model weft-image declares detector weft-detector, but .*detector\/manifest\.json does not exist/);
  });

  it('keeps a two-view folder working with or without a detector folder', () => {
    const twoViews = imageManifest({}, ['downsampled', 'center']);
    expect(loadModelSet(folder(twoViews)).detector).toBeUndefined();
    expect(loadModelSet(folder(twoViews, detector())).detector).toBeUndefined();
  });

  it('names a detector that does not fit the image manifest', () => {
    expect(() => loadModelSet(folder(garmentImage, detector({ name: 'other-detector' })))).toThrow(/is named other-detector, but image model weft-image declares detector weft-detector/);
    expect(() => loadModelSet(folder(garmentImage, detector({ preprocessing: { detector: { view: 'center', box: 'box', score: 'score' } } })))).toThrow(/takes view center, a center view/);
    expect(() => loadModelSet(folder(garmentImage, detector({ preprocessing: { detector: { view: 'front', box: 'box', score: 'score' } } })))).toThrow(/takes view front, which image model weft-image does not declare/);
    expect(() => loadModelSet(folder(garmentImage, detector({ inputs: [{ name: 'downsampled', datatype: 'UINT8', shape: [-1, 128, 128, 3] }] })))).toThrow(/expected UINT8 \[-1, 224, 224, 3\]/);
    expect(() => loadModelSet(folder(garmentImage, { ...garmentImage, name: 'weft-detector' }))).toThrow(/declares modality image, expected detector/);
  });
});
