/**
 * Sentence units for boilerplate statistics. Cleaned text keeps block boundaries (paragraphs,
 * list items) as lines; each line is split into sentences by ICU's sentence segmenter, so
 * "Machine wash cold. Do not bleach." counts as two units and "30-day returns" as one.
 */
import { createHash } from 'node:crypto';

const segmenter = new Intl.Segmenter('en', { granularity: 'sentence' });

export interface Sentence {
  /** The sentence as it appears, without surrounding whitespace. */
  text: string;
  /** Case-, punctuation- and spacing-insensitive form used for counting. */
  key: string;
  /** Stable id of `key` (first 16 hex digits of its SHA-256). */
  hash: string;
}

/** Lower case letters and digits only, one space between words: "Free returns!" ≡ "free returns". */
export const sentenceKey = (sentence: string): string =>
  sentence
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();

export const sentenceHash = (key: string): string => createHash('sha256').update(key).digest('hex').slice(0, 16);

/** Lines of sentences: `result[line][i]`, so text can be rebuilt with its line structure. */
export function splitSentences(text: string): Sentence[][] {
  return text.split('\n').map((line) =>
    [...segmenter.segment(line)]
      .map((segment) => segment.segment.trim())
      .filter((sentence) => sentence.length > 0)
      .map((sentence) => {
        const key = sentenceKey(sentence);
        return { text: sentence, key, hash: sentenceHash(key) };
      }),
  );
}

export const wordCount = (key: string): number => (key === '' ? 0 : key.split(' ').length);
