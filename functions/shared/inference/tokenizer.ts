/**
 * Client-side tokenization with the tokenizer shipped inside the model artifact
 * (manifest `preprocessing.text`), so serving tokenizes exactly as training did.
 *
 * @huggingface/tokenizers runs the tokenizer.json pipeline (normalizer, pre-tokenizer, model,
 * post-processor) but neither truncates nor pads; both are done here the way the Rust/Python
 * `tokenizers` do for a single sequence: content tokens are cut from the right, the special
 * tokens the post-processor adds ([CLS] … [SEP]) are kept, then pad tokens fill up to the length.
 */
import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import { manifestPath, type LoadedManifest } from '../manifest.js';

export interface TokenizedBatch {
  rows: number;
  length: number;
  /** Row-major [rows, length]. */
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
}

interface TokenizerJson {
  padding?: { pad_id?: number; pad_type_id?: number; pad_token?: string; direction?: string } | null;
}

interface TokenizerConfigJson {
  pad_token?: string | { content?: string };
  padding_side?: string;
}

export class ManifestTokenizer {
  private readonly prefix: number;
  private readonly suffix: number;

  constructor(
    private readonly tokenizer: Tokenizer,
    readonly maxLength: number,
    private readonly padId: number,
    private readonly padLeft: boolean,
  ) {
    // Where the post-processor puts its special tokens: compare one word with and without them.
    const plain: number[] = tokenizer.encode('a', { add_special_tokens: false }).ids;
    const full: number[] = tokenizer.encode('a').ids;
    const at = full.findIndex((_, i) => plain.every((id, j) => full[i + j] === id));
    this.prefix = Math.max(0, at);
    this.suffix = Math.max(0, full.length - this.prefix - plain.length);
    if (this.prefix + this.suffix >= maxLength) throw new Error(`maxLength ${maxLength} leaves no room beside ${this.prefix + this.suffix} special tokens`);
  }

  static async fromManifest(manifest: LoadedManifest): Promise<ManifestTokenizer> {
    const text = manifest.preprocessing.text;
    if (!text) throw new Error(`model ${manifest.name} has no text preprocessing in its manifest`);
    const json = JSON.parse(await readFile(manifestPath(manifest, text.tokenizer), 'utf8')) as TokenizerJson;
    const config = text.tokenizerConfig
      ? (JSON.parse(await readFile(manifestPath(manifest, text.tokenizerConfig), 'utf8')) as TokenizerConfigJson)
      : {};
    const tokenizer = new Tokenizer(json, config);
    const padToken = typeof config.pad_token === 'string' ? config.pad_token : (config.pad_token?.content ?? json.padding?.pad_token);
    const padId = json.padding?.pad_id ?? (padToken !== undefined ? tokenizer.token_to_id(padToken) : undefined) ?? 0;
    const padLeft = (json.padding?.direction ?? config.padding_side ?? 'right').toLowerCase() === 'left';
    // A graph with a fixed sequence dimension dictates the length; otherwise the manifest's maxLength.
    const fixed = manifest.inputs.find((i) => i.name === 'input_ids')?.shape[1];
    const length = fixed !== undefined && fixed > 0 ? fixed : text.maxLength;
    return new ManifestTokenizer(tokenizer, length, padId, padLeft);
  }

  /** Token ids of one text, truncated to maxLength, special tokens included, unpadded. */
  encode(text: string): { ids: number[]; typeIds: number[] } {
    const encoding = this.tokenizer.encode(text, { return_token_type_ids: true });
    let ids = encoding.ids;
    let typeIds = encoding.token_type_ids ?? ids.map(() => 0);
    if (ids.length > this.maxLength) {
      const keepHead = this.maxLength - this.suffix;
      ids = [...ids.slice(0, keepHead), ...ids.slice(ids.length - this.suffix)];
      typeIds = [...typeIds.slice(0, keepHead), ...typeIds.slice(typeIds.length - this.suffix)];
    }
    return { ids, typeIds };
  }

  encodeBatch(texts: string[]): TokenizedBatch {
    const length = this.maxLength;
    const inputIds = new BigInt64Array(texts.length * length).fill(BigInt(this.padId));
    const attentionMask = new BigInt64Array(texts.length * length);
    const tokenTypeIds = new BigInt64Array(texts.length * length);
    texts.forEach((text, row) => {
      const { ids, typeIds } = this.encode(text);
      const start = row * length + (this.padLeft ? length - ids.length : 0);
      ids.forEach((id, i) => {
        inputIds[start + i] = BigInt(id);
        attentionMask[start + i] = 1n;
        tokenTypeIds[start + i] = BigInt(typeIds[i] ?? 0);
      });
    });
    return { rows: texts.length, length, inputIds, attentionMask, tokenTypeIds };
  }
}
