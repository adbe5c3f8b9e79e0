/**
 * Repairs mojibake: UTF-8 bytes that some system decoded as Windows-1252 or Latin-1
 * ("Womenâ€™s" → "Women’s"), also when that happened twice ("Ã¢â‚¬â„¢" → "’").
 *
 * Only well-formed UTF-8 byte sequences spelled in single-byte characters are rewritten, one
 * sequence at a time, so correct text around them (and correct non-ASCII text in general) is left
 * alone. Two-character sequences are the only ones that occur in real prose by accident
 * ("ß“" in German quotes), so their decoded character must also be a plausible one.
 */
import iconv from 'iconv-lite';

/** char → the byte it came from, for every character Windows-1252 or Latin-1 can produce. */
const byteOf = new Map<string, number>();
for (let byte = 0x80; byte <= 0xff; byte++) {
  // Latin-1 maps 0x80–0x9F to C1 controls; Windows-1252 maps most of them to punctuation.
  byteOf.set(String.fromCharCode(byte), byte);
  const windows = iconv.decode(Buffer.from([byte]), 'win1252');
  if (windows !== '\uFFFD') byteOf.set(windows, byte);
}

const charsForBytes = (from: number, to: number): string =>
  [...byteOf]
    .filter(([, byte]) => byte >= from && byte <= to)
    .map(([char]) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .join('');

const cont = `[${charsForBytes(0x80, 0xbf)}]`;
const lead2 = `[${charsForBytes(0xc2, 0xdf)}]`;
const lead3 = `[${charsForBytes(0xe0, 0xef)}]`;
const lead4 = `[${charsForBytes(0xf0, 0xf4)}]`;
const sequence = new RegExp(`${lead4}${cont}{3}|${lead3}${cont}{2}|${lead2}${cont}`, 'g');
/** Cheap pre-check: no character at or above U+0080 that a single byte could have produced. */
const anyCandidate = new RegExp(`${lead2}|${lead3}|${lead4}`);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Code points a two-byte sequence may decode to: Latin-1 and Latin Extended, combining marks
 * (decomposed accents), Greek, Cyrillic. C1 controls too: they never occur in real text, and they
 * are the middle stage of double encoding ("Â\u009d" → U+009D, the last byte of "”").
 */
const plausibleTwoByte = (cp: number): boolean =>
  (cp >= 0x80 && cp <= 0x24f) || (cp >= 0x300 && cp <= 0x36f) || (cp >= 0x370 && cp <= 0x52f);

/** Three/four-byte sequences never appear by accident; only refuse what text never contains. */
const plausibleLong = (cp: number): boolean =>
  !(cp >= 0xe000 && cp <= 0xf8ff) && !(cp >= 0xfdd0 && cp <= 0xfdef) && (cp & 0xfffe) !== 0xfffe;

const repairSequence = (match: string): string => {
  const bytes = Uint8Array.from(match, (char) => byteOf.get(char) ?? 0);
  let decoded: string;
  try {
    decoded = utf8.decode(bytes);
  } catch {
    return match;
  }
  const cp = decoded.codePointAt(0) ?? 0;
  const ok = match.length === 2 ? plausibleTwoByte(cp) : plausibleLong(cp);
  return ok ? decoded : match;
};

/**
 * A UTF-8 no-break space (C2 A0) read as Windows-1252 is "Â" + NBSP; once something turned the
 * NBSP into a plain space only a stray "Â" before whitespace remains. A lone "Â" after a
 * non-letter is not a word in any language a catalog uses.
 */
const strayNbspMarker = /(?<![\p{L}\p{M}])\u00c2(?=[ \t\n])/gu;

/**
 * "”" is E2 80 9D, and 0x9D is undefined in Windows-1252: decoders either drop it or put U+FFFD
 * there. No other character is plausible after "â€" in that position, and "â€" is never text.
 */
const lostRightQuote = /\u00e2\u20ac(?:\ufffd|(?=[\s.,;:!?)]|$))/g;

const MAX_ROUNDS = 3;

export function repairMojibake(text: string): string {
  let current = text;
  for (let round = 0; round < MAX_ROUNDS && anyCandidate.test(current); round++) {
    const next = current.replace(lostRightQuote, '\u201d').replace(sequence, repairSequence);
    if (next === current) break;
    current = next;
  }
  return current.replace(strayNbspMarker, '');
}
