/**
 * Vendor color names ("Oxblood", "heather-grey", "Midnight Green", "BLK/WHT") → one of the base
 * colors the models predict, `multicolor`, or `unknown`.
 *
 * Order of evidence, strongest first:
 *   1. the curated fashion lexicon for the whole name (lexicon.json: nude, camel, navy, rose gold…);
 *   2. several colors joined by "/", "&", "and"… → `multicolor` when they differ;
 *   3. the name without shading modifiers ("washed", "dark"…), then its longest known ending:
 *      English color compounds put the family last ("midnight green", "dusty rose");
 *   4. the named-color data set (color-name-list, ~30k names with hex values): the hex goes to
 *      the base of its nearest palette anchor by CIEDE2000 (palette.json), but only when the
 *      nearest anchor is close and clearly nearer than any other family's; otherwise `unknown`;
 *   5. a single base color word anywhere in the name ("red velvet"), then weak terms ("chambray", "stone wash");
 *   6. otherwise `unknown`: a name is never mapped by guesswork.
 * The lexicon and the data-set index are built once per cold start; results are memoized.
 */
import { colornames } from 'color-name-list';
import { converter, differenceCiede2000, type Lab65 } from 'culori';
import palette from './palette.json' with { type: 'json' };
import lexicon from './lexicon.json' with { type: 'json' };

export type ColorSource = 'lexicon' | 'dataset' | 'unknown';

export interface NormalizedColor {
  /** The vendor's value as given. */
  raw: string;
  /** A base color slug from palette.json, `multicolor` or `unknown`. */
  normalized: string;
  via: ColorSource;
  /** The lexicon entry or data-set name that decided, when one did. */
  matched?: string;
  /** For data-set matches: the name's hex and its CIEDE2000 distance to the nearest anchor. */
  hex?: string;
  deltaE?: number;
}

/** Furthest a data-set hex may lie from its nearest anchor and still count as that family. */
export const MAX_DELTA_E = 12;
/**
 * How much nearer the winning family's anchor must be than the best other family's. Calibrated on
 * the data set's own self-describing names ("… Blue", "… Grey": ~5,900 of them; see
 * test/unit/color-calibration.test.ts): margin 3 keeps ~68% of them at ~80% agreement, against 69%
 * agreement with no cut-off. Below the margin the hex sits between families and the answer is
 * `unknown`.
 */
export const MIN_MARGIN = 3;

export const BASE_COLORS: readonly string[] = palette.bases;
export const MULTICOLOR = palette.multicolor;
export const UNKNOWN = palette.unknown;

const toLab = converter('lab65');
const deltaE = differenceCiede2000();

const anchors: { base: string; lab: Lab65 }[] = Object.entries(palette.anchors).flatMap(([base, hexes]) =>
  hexes.map((hex) => {
    const lab = toLab(hex);
    if (!lab) throw new Error(`palette.json: anchor ${hex} of ${base} is not a color`);
    return { base, lab };
  }),
);

/** Lower case, no accents, "ß" → "ss", separators and punctuation to spaces, one space between words. */
export function normalizeKey(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/ß/g, 'ss')
    .replace(/[^\p{L}\p{N}/&+,|;]+/gu, ' ')
    .replace(/[/&+,|;]/g, ' $& ')
    .replace(/\s+/g, ' ')
    .trim();
}

const spellings = new Map(Object.entries(lexicon.spellings));
const modifiers = new Set(lexicon.modifiers);
const unknownValues = new Set(lexicon.unknown);
const patterns = new Set(lexicon.patterns);
const terms = new Map(Object.entries(lexicon.terms));
const weakTerms = new Map(Object.entries(lexicon.weak));
const baseSet = new Set(BASE_COLORS);

/** Applies spelling variants and abbreviations to whole phrases and to single words. */
const respell = (key: string): string => {
  const whole = spellings.get(key);
  if (whole !== undefined) return whole;
  return key
    .split(' ')
    .map((word) => spellings.get(word) ?? word)
    .join(' ');
};

/** Words glued together by vendors: "darkgrey", "navyblue", "offwhite". */
const knownWord = (word: string): boolean =>
  terms.has(word) || modifiers.has(word) || weakTerms.has(word) || patterns.has(word) || word === 'off';
const splitGlued = (word: string): string => {
  if (knownWord(word) || word.length < 6) return word;
  for (let i = 3; i <= word.length - 3; i++) {
    const head = spellings.get(word.slice(0, i)) ?? word.slice(0, i);
    const tail = spellings.get(word.slice(i)) ?? word.slice(i);
    if (knownWord(head) && knownWord(tail)) return `${head} ${tail}`;
  }
  return word;
};

/** Style numbers and codes that vendors prefix or suffix: "001", "#12", "c01", "410". */
const isCode = (word: string): boolean => /^\p{N}+$/u.test(word) || /^[a-z]{0,2}\p{N}{2,}[a-z]?$/u.test(word);

const canonical = (name: string): string =>
  respell(normalizeKey(name))
    .split(' ')
    .filter((word) => word.length > 0 && !isCode(word))
    .map(splitGlued)
    .join(' ');

/**
 * The data set keyed like vendor input, built once per cold start on the first name the lexicon
 * cannot settle (~0.1 s for ~30k names); names the lexicon settles never pay for it.
 */
let datasetIndex: Map<string, { name: string; hex: string }> | undefined;
const dataset = (): Map<string, { name: string; hex: string }> => {
  if (!datasetIndex) {
    datasetIndex = new Map();
    for (const { name, hex } of colornames) {
      const key = canonical(name);
      if (key && !datasetIndex.has(key)) datasetIndex.set(key, { name, hex });
    }
  }
  return datasetIndex;
};

interface Classified {
  base: string;
  deltaE: number;
  confident: boolean;
}

/** Nearest palette family of a hex by CIEDE2000, with the distance and margin checks. */
export function classifyHex(hex: string): Classified | undefined {
  const lab = toLab(hex);
  if (!lab) return undefined;
  const best = new Map<string, number>();
  for (const anchor of anchors) {
    const d = deltaE(anchor.lab, lab);
    if (d < (best.get(anchor.base) ?? Infinity)) best.set(anchor.base, d);
  }
  const ranked = [...best].sort((a, b) => a[1] - b[1]);
  const [first, second] = ranked;
  if (!first) return undefined;
  const margin = second ? second[1] - first[1] : Infinity;
  return { base: first[0], deltaE: first[1], confident: first[1] <= MAX_DELTA_E && margin >= MIN_MARGIN };
}

type Resolution = Omit<NormalizedColor, 'raw'>;

const unknown: Resolution = { normalized: UNKNOWN, via: 'unknown' };

const fromTerm = (phrase: string, table: Map<string, string> = terms): Resolution | undefined => {
  const base = table.get(phrase);
  return base === undefined ? undefined : { normalized: base, via: 'lexicon', matched: phrase };
};

const fromDataset = (phrase: string): Resolution | undefined => {
  const entry = dataset().get(phrase);
  if (!entry) return undefined;
  const classified = classifyHex(entry.hex);
  if (!classified) return undefined;
  const deltaERounded = Math.round(classified.deltaE * 10) / 10;
  return classified.confident
    ? { normalized: classified.base, via: 'dataset', matched: entry.name, hex: entry.hex, deltaE: deltaERounded }
    : { normalized: UNKNOWN, via: 'unknown', matched: entry.name, hex: entry.hex, deltaE: deltaERounded };
};

/** Resolves one color (no separators) given as canonical words. */
const resolveSingle = (phrase: string): Resolution => {
  if (!phrase) return unknown;
  if (unknownValues.has(phrase)) return unknown;
  const direct = fromTerm(phrase);
  if (direct) return direct;
  if (patterns.has(phrase)) return { normalized: MULTICOLOR, via: 'lexicon', matched: phrase };
  const weakDirect = fromTerm(phrase, weakTerms);
  if (weakDirect) return weakDirect;
  // Vendors split compounds the lexicon spells as one word: "bubble gum", "sea foam".
  const joined = fromTerm(phrase.replace(/ /g, ''));
  if (joined) return joined;
  const words = phrase.split(' ');
  const content = words.filter((word) => !modifiers.has(word) && !patterns.has(word));
  const stripped = content.join(' ');

  if (stripped && stripped !== phrase) {
    const hit = fromTerm(stripped) ?? fromTerm(stripped, weakTerms);
    if (hit) return hit;
  }
  // "Black White", "Navy-White": literal black or white beside another literal colour word is a
  // two-tone garment, not a shade ("blue grey" is a grey; "arctic white" is a white).
  const literal = new Set(content.filter((word) => baseSet.has(word) || word === 'navy').map((word) => terms.get(word)));
  if (literal.size >= 2 && (literal.has('black') || literal.has('white'))) {
    return { normalized: MULTICOLOR, via: 'lexicon', matched: stripped };
  }
  const wordBases = new Set(content.map((word) => terms.get(word)).filter((base): base is string => base !== undefined));
  // Longest known ending: "midnight green" → "green", "dusty rose" → "rose".
  for (let start = 1; start < content.length; start++) {
    const hit = fromTerm(content.slice(start).join(' '));
    if (hit) return hit;
  }
  const dataset = fromDataset(phrase) ?? (stripped && stripped !== phrase ? fromDataset(stripped) : undefined);
  if (dataset && dataset.via === 'dataset') return dataset;

  // One family named anywhere ("red velvet", "blue haze" when the data set lacks it).
  const named = wordBases;
  if (named.size === 1) {
    const [base] = named;
    return { normalized: base ?? UNKNOWN, via: 'lexicon', matched: content.find((w) => terms.get(w) === base) };
  }
  if (named.size > 1) return { normalized: MULTICOLOR, via: 'lexicon', matched: stripped };
  for (const word of words) {
    const weak = fromTerm(word, weakTerms);
    if (weak) return weak;
  }
  if (content.length === 0 && words.some((word) => patterns.has(word))) {
    return { normalized: MULTICOLOR, via: 'lexicon', matched: phrase };
  }
  return dataset ?? unknown;
};

const partSeparator = /\s*(?:[/&+,|;]|\band\b|\bwith\b|\bx\b)\s*/;

const resolve = (name: string): Resolution => {
  const key = canonical(name);
  if (!key || unknownValues.has(key)) return unknown;
  const whole = fromTerm(key.replace(/[/&+,|;]/g, ' ').replace(/\s+/g, ' ').trim());
  if (whole) return whole;
  const parts = key
    .split(partSeparator)
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  if (parts.length <= 1) return resolveSingle(parts[0] ?? '');

  const resolved = parts.map(resolveSingle);
  const bases = new Set(resolved.map((r) => r.normalized).filter((base) => base !== UNKNOWN));
  if (bases.size === 0) return unknown;
  const via: ColorSource = resolved.every((r) => r.via !== 'dataset') ? 'lexicon' : 'dataset';
  if (bases.size === 1) {
    const [base] = bases;
    // "black/black" is black; "black/unknown-word" is still only known to be partly black.
    if (resolved.every((r) => r.normalized !== UNKNOWN)) return { normalized: base ?? UNKNOWN, via, matched: key };
    return base === MULTICOLOR ? { normalized: MULTICOLOR, via, matched: key } : unknown;
  }
  return { normalized: MULTICOLOR, via, matched: key };
};

const MEMO_LIMIT = 50_000;
const memo = new Map<string, Resolution>();

export function normalizeColor(name: string): NormalizedColor {
  const raw = typeof name === 'string' ? name : String(name ?? '');
  let resolution = memo.get(raw);
  if (!resolution) {
    resolution = resolve(raw.slice(0, 200));
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(raw, resolution);
  }
  return { raw, ...resolution };
}
