/**
 * A models folder (manifests + ensemble.json) for D's handler and API tests, written to a temp
 * dir. Task names and labels here are test inputs; the code under test reads them from the files.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TEST_TASKS = [
  { name: 'category', labels: ['tshirt_top', 'trouser', 'dress'] },
  { name: 'color', labels: ['black', 'white', 'red', 'blue', 'green'] },
];

const manifest = (modality: 'image' | 'text') => ({
  schemaVersion: 1,
  name: `weft-${modality}`,
  version: '0.0.1-test',
  modality,
  tasks: TEST_TASKS,
  onnx: `triton/weft-${modality}/1/model.onnx`,
  inputs:
    modality === 'image'
      ? [
          { name: 'downsampled', datatype: 'UINT8', shape: [-1, 32, 32, 3] },
          { name: 'center', datatype: 'UINT8', shape: [-1, 32, 32, 3] },
        ]
      : [
          { name: 'input_ids', datatype: 'INT64', shape: [-1, 16] },
          { name: 'attention_mask', datatype: 'INT64', shape: [-1, 16] },
        ],
  outputs: TEST_TASKS.map((t) => ({ name: t.name, task: t.name, datatype: 'FP32', shape: [-1, t.labels.length] })),
  preprocessing:
    modality === 'image'
      ? { image: { viewSize: 32, centerCropFraction: 0.4, background: [255, 255, 255] } }
      : { text: { tokenization: 'client', tokenizer: 'tokenizer/tokenizer.json', maxLength: 16, fields: ['title', 'description', 'brand'] } },
  triton: { repository: 'triton', modelName: `weft-${modality}`, maxBatchSize: 8 },
});

/** A small WordPiece tokenizer over `vocab` in the tokenizer.json format, as a text model artifact ships it. */
export const wordPieceTokenizerJson = (vocab: readonly string[]) => ({
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]'].map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
    special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } },
  },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])) },
});

export const TEST_VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'red', 'blue', 'green', 'black', 'white', 'shirt', 'tee', 'dress', 'trousers', 'cotton'];

/** The image manifest with a third, garment view (list form) and the detector it names. */
export const GARMENT_VIEWS = [
  { name: 'downsampled', input: 'downsampled', kind: 'whole' },
  { name: 'center', input: 'center', kind: 'center' },
  { name: 'garment', input: 'garment', kind: 'garment', padding: 0.1, minScore: 0.3 },
];

const garmentImageManifest = () => {
  const image = manifest('image');
  return {
    ...image,
    inputs: [...image.inputs, { name: 'garment', datatype: 'UINT8', shape: [-1, 32, 32, 3] }],
    preprocessing: { image: { ...image.preprocessing.image, views: GARMENT_VIEWS, detector: 'weft-detector' } },
  };
};

export const detectorManifest = () => ({
  schemaVersion: 1,
  name: 'weft-detector',
  version: '0.0.1-test',
  modality: 'detector',
  tasks: [],
  onnx: 'triton/weft-detector/1/model.onnx',
  inputs: [{ name: 'whole_view', datatype: 'UINT8', shape: [-1, 32, 32, 3] }],
  outputs: [
    { name: 'garment_box', datatype: 'FP32', shape: [-1, 4] },
    { name: 'garment_score', datatype: 'FP32', shape: [-1] },
  ],
  preprocessing: { detector: { view: 'downsampled', box: 'garment_box', score: 'garment_score' } },
  triton: { repository: 'triton', modelName: 'weft-detector', maxBatchSize: 8 },
});

/** `garment`: the image model takes a garment view and the folder holds detector/. */
export const writeModelsDir = (ensemble?: unknown, opts: { garment?: boolean } = {}): string => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-models-'));
  for (const modality of ['image', 'text'] as const) {
    mkdirSync(join(dir, modality), { recursive: true });
    writeFileSync(join(dir, modality, 'manifest.json'), JSON.stringify(modality === 'image' && opts.garment ? garmentImageManifest() : manifest(modality)));
  }
  if (opts.garment) {
    mkdirSync(join(dir, 'detector'), { recursive: true });
    writeFileSync(join(dir, 'detector', 'manifest.json'), JSON.stringify(detectorManifest()));
  }
  mkdirSync(join(dir, 'text', 'tokenizer'));
  writeFileSync(join(dir, 'text', 'tokenizer', 'tokenizer.json'), JSON.stringify(wordPieceTokenizerJson(TEST_VOCAB)));
  writeFileSync(
    join(dir, 'ensemble.json'),
    JSON.stringify(
      ensemble ?? {
        schemaVersion: 1,
        defaults: { weights: { image: 0.5, text: 0.5, rules: 0.5 }, threshold: 0 },
        tasks: { color: { weights: { image: 0.5, text: 0.2, rules: 0.3 }, threshold: 0.3 } },
      },
    ),
  );
  return dir;
};
