/**
 * Text model client: tokenizes on this side with the artifact's own tokenizer (the manifest says
 * `tokenization: client`) and sends INT64 token tensors — `input_ids`, `attention_mask`, and
 * `token_type_ids` when the graph declares it.
 */
import type { ModelEndpoint } from './modelEndpoint.js';
import { ModelContractError } from './modelEndpoint.js';
import { toRows } from './imageModel.js';
import { ManifestTokenizer, type TokenizedBatch } from './tokenizer.js';
import type { Tensor } from './triton.js';
import type { TaskProbabilities } from './types.js';

export interface TextModel {
  readonly tokenizer: ManifestTokenizer;
  predict(texts: string[]): Promise<TaskProbabilities[]>;
  /** The model's input tensors for a batch of texts (also what async inference writes to S3). */
  inputs(texts: string[]): Tensor[];
}

const TOKEN_INPUTS = new Map<string, (batch: TokenizedBatch) => BigInt64Array>([
  ['input_ids', (b) => b.inputIds],
  ['attention_mask', (b) => b.attentionMask],
  ['token_type_ids', (b) => b.tokenTypeIds],
]);

export const createTextModel = async (endpoint: ModelEndpoint): Promise<TextModel> => {
  const manifest = endpoint.manifest;
  if (manifest.preprocessing.text?.tokenization !== 'client') {
    throw new ModelContractError(`model ${manifest.name} does not ask for client-side tokenization`);
  }
  for (const input of manifest.inputs) {
    if (!TOKEN_INPUTS.has(input.name)) throw new ModelContractError(`text model input ${input.name} is not one of ${[...TOKEN_INPUTS.keys()].join(', ')}`);
    if (input.datatype !== 'INT64') throw new ModelContractError(`text model input ${input.name} must be INT64, manifest says ${input.datatype}`);
  }
  const tokenizer = await ManifestTokenizer.fromManifest(manifest);
  const inputs = (texts: string[]): Tensor[] => {
    const batch = tokenizer.encodeBatch(texts);
    return manifest.inputs.map((spec) => ({
      name: spec.name,
      datatype: 'INT64',
      shape: [batch.rows, batch.length],
      data: TOKEN_INPUTS.get(spec.name)!(batch),
    }));
  };
  return {
    tokenizer,
    inputs,
    async predict(texts: string[]): Promise<TaskProbabilities[]> {
      if (texts.length === 0) return [];
      return toRows(await endpoint.invoke(inputs(texts)), texts.length);
    },
  };
};
