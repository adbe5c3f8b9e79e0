import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { cleanText, DEFAULT_MAX_CHARS, TRUNCATION_MARKER, truncate } from '../../functions/shared/text/cleanText.js';
import { repairMojibake } from '../../functions/shared/text/mojibake.js';

/** What a system that reads UTF-8 bytes as Windows-1252 shows. */
const asWindows1252 = (text: string): string => iconv.decode(Buffer.from(text, 'utf8'), 'win1252');
const asLatin1 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

describe('repairMojibake', () => {
  it.each([
    ['Womenâ€™s tee in ruby', 'Women’s tee in ruby'],
    ['CafÃ© crÃ¨me, 100% coton Ã©cru', 'Café crème, 100% coton écru'],
    ['â€œSoftâ€\u009d and light â€” wash at 30Â°C', '“Soft” and light — wash at 30°C'],
    ['Ã¢â‚¬Å“Relaxed fitÃ¢â‚¬Â\u009d', '“Relaxed fit”'],
    ['Ã¢â‚¬â„¢', '’'],
    ['GrÃ¶ÃŸe M, WeiÃŸ', 'Größe M, Weiß'],
    ['Ð¡Ð¸Ð½Ð¸Ð¹ Ñ\u0081Ð²Ð¸Ñ‚ÐµÑ€', 'Синий свитер'],
    ['Tâ€‘shirt â€¢ 2 pack', 'T‑shirt • 2 pack'],
    ['Heart â\u009d¤ï¸\u008f', 'Heart ❤️'],
    ['“Relaxedâ€\ufffd fit', '“Relaxed” fit'],
    ['cotton.Â Machine wash', 'cotton. Machine wash'],
  ])('repairs %j', (input, expected) => {
    expect(repairMojibake(input)).toBe(expected);
  });

  it.each([
    'Women’s tee in ruby',
    'Café crème brûlée, naïve façade',
    'Straße „Grüße“ ß“ und Öl',
    'Ü» and É© are odd but not mojibake: Ö¹',
    'Синий свитер, 日本製, 한국어',
    'Price: £20 · ½ off · 30°C · ©2026 Brand™',
    'ÂLONE', 
    'plain ASCII text',
  ])('leaves correct text alone: %j', (text) => {
    expect(repairMojibake(text)).toBe(text);
  });

  it('undoes double encoding produced by real decoders', () => {
    const original = 'Women’s “relaxed” tee — 100% coton écru, 30°C';
    expect(repairMojibake(asWindows1252(original))).toBe(original);
    expect(repairMojibake(asLatin1(original))).toBe(original);
    expect(repairMojibake(asWindows1252(asWindows1252(original)))).toBe(original);
  });

  it('round-trips random text through Windows-1252 mojibake', () => {
    const letters = fc.constantFrom(...'abc XYZ é è à ç ü ö ß ñ ’ “ ” — – • € £ ° ™ © Ж ж 日'.split(' '));
    fc.assert(
      fc.property(fc.array(letters, { minLength: 1, maxLength: 12 }), (parts) => {
        const original = parts.join(' ');
        expect(repairMojibake(asWindows1252(original))).toBe(original);
      }),
    );
  });
});

describe('cleanText', () => {
  it.each([
    ['HTML description with script and style', '<div class="desc"><style>.x{color:red}</style><script>track()</script><h2>Relaxed Tee</h2><p>Soft&nbsp;cotton &amp; linen.</p><ul><li>Crew neck</li><li>Short sleeves</li></ul></div>',
      'Relaxed Tee\nSoft cotton & linen.\n- Crew neck\n- Short sleeves'],
    ['escaped HTML in a feed', '&lt;p&gt;Women&amp;#39;s &lt;b&gt;wrap&lt;/b&gt; dress&lt;/p&gt;', "Women's wrap dress"],
    ['double-escaped entity', 'Tom &amp;amp; Jerry tee', 'Tom & Jerry tee'],
    ['mojibake in HTML', '<p>Womenâ€™s tee in ruby</p>', 'Women’s tee in ruby'],
    ['full-width letters (NFKC)', 'ＣＯＴＴＯＮ　１００％', 'COTTON 100%'],
    ['zero-width and bidi characters', 'Slim\u200b fit\u200d jeans\u2060 \u202eok\u202c\ufeff', 'Slim fit jeans ok'],
    ['soft hyphen and control characters', 'Cash\u00admere\u0007 blend\u0000', 'Cashmere blend'],
    ['whitespace runs and blank lines', '  Linen\t\tshirt \r\n\r\n\r\n Relaxed   fit  ', 'Linen shirt\nRelaxed fit'],
    ['line separators', 'Line one\u2028Line two\u2029Line three', 'Line one\nLine two\nLine three'],
    ['table cells stay apart', '<table><tr><th>Size</th><th>Chest</th></tr><tr><td>M</td><td>100 cm</td></tr></table>', 'Size Chest\nM 100 cm'],
    ['prose with angle brackets is not HTML', 'Fits sizes < 10 and > 4 <3', 'Fits sizes < 10 and > 4 <3'],
    ['links keep their text only', 'See <a href="https://x.example/size">size guide</a>.', 'See size guide.'],
    ['ligatures and compatibility characters', 'ﬁtted ﬂeece, 2½ cm', 'fitted fleece, 21⁄2 cm'],
    ['correct non-Latin text', '<p>棉质 T 恤</p>', '棉质 T 恤'],
    ['empty', '', ''],
    ['only tags', '<br/><p> </p>', ''],
  ])('%s', (_name, input, expected) => {
    expect(cleanText(input)).toBe(expected);
  });

  it('joins lines when asked for a single line', () => {
    expect(cleanText('<p>One</p><p>Two</p>', { singleLine: true })).toBe('One Two');
  });

  it('decodes bytes as UTF-8 with replacement characters for invalid sequences', () => {
    expect(cleanText(new Uint8Array([0x48, 0x69, 0xff, 0x20, 0xc3, 0x28]))).toBe('Hi\ufffd \ufffd(');
    expect(cleanText(Buffer.from('\ufeffCafé', 'utf8'))).toBe('Café');
  });

  it('does not throw on values that are not text and on odd caps', () => {
    expect(cleanText(undefined as unknown as string)).toBe('');
    expect(cleanText(42 as unknown as string)).toBe('');
    expect(cleanText('Soft tee', { maxChars: Number.NaN })).toBe('Soft tee');
    expect(cleanText('Soft tee', { maxChars: Number.POSITIVE_INFINITY })).toBe('Soft tee');
    expect(cleanText('Soft tee', { maxChars: -3 })).toBe('');
  });

  it('replaces lone surrogates', () => {
    expect(cleanText('a\ud800b\udc00c')).toBe('a\ufffdb\ufffdc');
  });

  it('caps length at a word boundary with a visible marker', () => {
    const text = 'Soft organic cotton jersey with a relaxed fit and dropped shoulders. '.repeat(20);
    const out = cleanText(text, { maxChars: 100 });
    expect(out.length).toBeLessThanOrEqual(100);
    expect(out.endsWith(` ${TRUNCATION_MARKER}`)).toBe(true);
    expect(text.startsWith(out.slice(0, -TRUNCATION_MARKER.length - 1))).toBe(true);
    expect(out.slice(0, -TRUNCATION_MARKER.length - 1)).toMatch(/\S$/);
    expect(cleanText('short', { maxChars: 100 })).toBe('short');
  });

  it('never splits a surrogate pair when truncating', () => {
    const out = truncate(`${'x'.repeat(87)}${'😀'.repeat(20)}`, 100);
    expect(out).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    expect(out.length).toBeLessThanOrEqual(100);
  });

  it('handles caps smaller than the marker', () => {
    expect(cleanText('abcdefghijklmnopqrstuvwxyz', { maxChars: 5 })).toBe('abcde');
    expect(cleanText('abc', { maxChars: 0 })).toBe('');
  });

  it('uses the default cap for huge input without choking', () => {
    const huge = `<p>${'word '.repeat(400_000)}</p>`;
    const out = cleanText(huge);
    expect(out.length).toBeLessThanOrEqual(DEFAULT_MAX_CHARS);
    expect(out.endsWith(TRUNCATION_MARKER)).toBe(true);
  });

  describe('properties', () => {
    const vendorish = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc
        .array(
          fc.constantFrom('<p>', '</p>', '<br>', '&amp;', '&lt;b&gt;', 'â€™', 'Ã©', 'Â ', '\u200b', '\u00a0', '\t', '\n', ' ', 'Ｔ', 'ﬁ', 'cotton', 'Tee', '.', '<script>x</script>', '&#39;', '&nbsp;'),
          { maxLength: 60 },
        )
        .map((parts) => parts.join('')),
    );

    it('is idempotent: clean(clean(x)) = clean(x)', () => {
      fc.assert(
        fc.property(vendorish, fc.integer({ min: 1, max: 400 }), (text, maxChars) => {
          const once = cleanText(text, { maxChars });
          expect(cleanText(once, { maxChars })).toBe(once);
        }),
        { numRuns: 500 },
      );
    });

    it('never throws on random bytes and stays within the cap', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 512 }), fc.integer({ min: 0, max: 300 }), (bytes, maxChars) => {
          const out = cleanText(bytes, { maxChars });
          expect(typeof out).toBe('string');
          expect(out.length).toBeLessThanOrEqual(maxChars);
        }),
        { numRuns: 500 },
      );
    });

    it('output has no control, zero-width or lone surrogate characters and no whitespace runs', () => {
      fc.assert(
        fc.property(vendorish, (text) => {
          const out = cleanText(text);
          expect(out).not.toMatch(/[\p{Cf}\u0000-\u0009\u000b-\u001f\u007f-\u009f]/u);
          expect(out).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
          expect(out).not.toMatch(/ {2}|\n\n|^\s|\s$/);
        }),
        { numRuns: 300 },
      );
    });
  });
});
