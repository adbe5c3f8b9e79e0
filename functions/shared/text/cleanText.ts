/**
 * Turns whatever a vendor put in a text field into plain, normalized text for the text model and
 * for boilerplate statistics. Used by text-ingest and, through `weft clean-text`, by the Python
 * data builder, so training and serving see the same text.
 *
 * Steps, repeated until the text stops changing (escaped HTML such as `&lt;b&gt;` only becomes a
 * tag after one round, and the result must be a fixed point: clean(clean(x)) = clean(x)):
 *   mojibake repair → HTML to text / entity decoding → mojibake repair (entities may spell it) →
 *   drop format and control characters → NFKC → collapse whitespace.
 * Then a length cap with a visible marker. Line breaks between blocks (paragraphs, list items)
 * survive as single "\n" because they are sentence boundaries for the boilerplate filter; every
 * other run of whitespace becomes one space.
 *
 * Never throws: bytes are decoded as UTF-8 with U+FFFD for invalid sequences, and any unexpected
 * failure inside a step falls back to the text before that step.
 */
import { compile, type HtmlToTextOptions } from 'html-to-text';
import { decodeHTMLStrict } from 'entities';
import { repairMojibake } from './mojibake.js';

export interface CleanTextOptions {
  /** Longest output in UTF-16 code units, marker included. Default {@link DEFAULT_MAX_CHARS}. */
  maxChars?: number;
  /** Join lines with a space instead of keeping block boundaries as "\n". */
  singleLine?: boolean;
}

export const DEFAULT_MAX_CHARS = 10_000;
/** ASCII so that NFKC and the cleaner itself leave it intact (an ellipsis would become "..."). */
export const TRUNCATION_MARKER = '[truncated]';

/** Raw input beyond this many characters is never looked at; it bounds HTML parsing time. */
const MAX_INPUT_FACTOR = 20;
const MIN_INPUT_CHARS = 200_000;
const MAX_ROUNDS = 4;

const htmlOptions: HtmlToTextOptions = {
  wordwrap: false,
  preserveNewlines: false,
  decodeEntities: true,
  selectors: [
    { selector: 'a', options: { ignoreHref: true } },
    { selector: 'img', format: 'skip' },
    { selector: 'script', format: 'skip' },
    { selector: 'style', format: 'skip' },
    { selector: 'noscript', format: 'skip' },
    { selector: 'template', format: 'skip' },
    { selector: 'svg', format: 'skip' },
    { selector: 'iframe', format: 'skip' },
    { selector: 'head', format: 'skip' },
    { selector: 'ul', options: { itemPrefix: '- ' } },
    { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
    ...(['h1', 'h2', 'h3', 'h4', 'h5', 'h6'] as const).map((selector) => ({
      selector,
      options: { uppercase: false },
    })),
  ],
};

/** Compiled once: html-to-text's `convert` rebuilds its selector machinery on every call. */
const htmlToPlainText = compile(htmlOptions);

/** A tag, comment, doctype or CDATA opener; "a < b" and "<3" in prose are not HTML. */
const looksLikeHtml = /<(?:[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]*)?\/?>|\/[a-zA-Z][a-zA-Z0-9-]*\s*>|!--|!doctype|!\[CDATA\[)/i;
const looksLikeEntity = /&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);/;

/** Unpaired surrogates cannot be written as UTF-8; treat them like invalid bytes. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** Line and paragraph separators, CR, vertical tab, form feed, NEL: all line breaks. */
const lineBreaks = /\r\n?|[\u000b\u000c\u0085\u2028\u2029]/g;
/** Format characters (zero-width space/joiners, BOM, soft hyphen, bidi controls) and controls other than tab and newline. */
const invisible = /[\p{Cf}\u0000-\u0008\u000e-\u001f\u007f-\u0084\u0086-\u009f]/gu;
const horizontalSpace = /[\t\p{Zs}]+/gu;

const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });

const safely = (step: (text: string) => string, text: string): string => {
  try {
    return step(text);
  } catch {
    return text;
  }
};

const htmlToText = (text: string): string => {
  if (looksLikeHtml.test(text)) return htmlToPlainText(text);
  if (!looksLikeEntity.test(text)) return text;
  // Feeds often escape twice ("&amp;amp;"); each pass shortens the text, so this ends.
  let current = text;
  for (let next = decodeHTMLStrict(current); next !== current; next = decodeHTMLStrict(current)) current = next;
  return current;
};

const collapseWhitespace = (text: string, singleLine: boolean): string => {
  const lines = text
    .replace(lineBreaks, '\n')
    .split('\n')
    .map((line) => line.replace(horizontalSpace, ' ').trim())
    .filter((line) => line.length > 0);
  return lines.join(singleLine ? ' ' : '\n');
};

const cleanRound = (text: string, singleLine: boolean): string => {
  let current = safely(repairMojibake, text);
  current = safely(htmlToText, current);
  current = safely(repairMojibake, current);
  // Invisible characters go before NFKC so that what they separated can compose ("e\u200b\u0301").
  current = current.replace(loneSurrogate, '\uFFFD').replace(invisible, '');
  current = safely((t) => t.normalize('NFKC'), current);
  return collapseWhitespace(current, singleLine);
};

/** Cuts at a word boundary when one is near, never inside a surrogate pair, and marks the cut. */
export function truncate(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const room = maxChars - TRUNCATION_MARKER.length - 1;
  if (room <= 0) return text.slice(0, Math.max(0, maxChars)).replace(/[\uD800-\uDBFF]$/, '').trimEnd();
  let cut = room;
  if (/[\uDC00-\uDFFF]/.test(text.charAt(cut))) cut -= 1;
  // Back off to the last word boundary unless that would throw away a long stretch.
  const lastSpace = text.slice(0, cut + 1).search(/\s\S*$/);
  if (lastSpace > 0 && cut - lastSpace <= Math.max(20, room * 0.2)) cut = lastSpace;
  return `${text.slice(0, cut).trimEnd()} ${TRUNCATION_MARKER}`;
}

/** Cleaning rounds until nothing changes (bounded: pathological nesting stops after MAX_ROUNDS). */
const settle = (input: string, singleLine: boolean): string => {
  let text = input;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const next = cleanRound(text, singleLine);
    if (next === text) break;
    text = next;
  }
  return text;
};

export function cleanText(input: string | Uint8Array, opts: CleanTextOptions = {}): string {
  const requested = Number(opts.maxChars ?? DEFAULT_MAX_CHARS);
  const maxChars = Number.isNaN(requested) ? DEFAULT_MAX_CHARS : Math.max(0, Math.floor(requested));
  const singleLine = opts.singleLine ?? false;
  let text: string;
  try {
    text = typeof input === 'string' ? input : decoder.decode(input);
  } catch {
    text = '';
  }
  if (typeof text !== 'string') text = String(text ?? '');
  text = text.slice(0, Math.max(MIN_INPUT_CHARS, maxChars * MAX_INPUT_FACTOR));

  text = settle(text, singleLine);
  if (text.length <= maxChars) return text;
  // A cut can expose context that a rule looks at (a stray "Â" now before a space): settle the
  // cut text again, so the output stays a fixed point. Rules only shrink clean text.
  const cut = settle(truncate(text, maxChars), singleLine);
  return cut.length <= maxChars ? cut : cut.slice(0, maxChars).replace(/[\uD800-\uDBFF]$/, '');
}
