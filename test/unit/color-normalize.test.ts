import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { colornames } from 'color-name-list';
import {
  BASE_COLORS,
  classifyHex,
  MULTICOLOR,
  normalizeColor,
  normalizeKey,
  UNKNOWN,
} from '../../functions/shared/color/normalizeColor.js';
import lexicon from '../../functions/shared/color/lexicon.json' with { type: 'json' };

const readLabeled = (file: string) =>
  readFileSync(new URL(`../data/${file}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .slice(1)
    .map((line) => {
      const [name = '', label = '', note = ''] = line.split('\t');
      return { name, label, note };
    });
const labeled = readLabeled('vendor-colors.tsv');

describe('normalizeColor', () => {
  it.each([
    // the issue's examples
    ['Oxblood', 'red', 'lexicon'],
    ['heather grey', 'grey', 'lexicon'],
    ['Midnight Green', 'green', 'lexicon'],
    ['nude', 'beige', 'lexicon'],
    ['Camel', 'brown', 'lexicon'],
    ['NAVY', 'blue', 'lexicon'],
    ['off-white', 'white', 'lexicon'],
    ['Rose Gold', 'pink', 'lexicon'],
    ['Denim', 'blue', 'lexicon'],
    ['rainbow', 'multicolor', 'lexicon'],
    ['multi', 'multicolor', 'lexicon'],
    // case, spacing, hyphens, spellings
    ['  HEATHER-GRAY ', 'grey', 'lexicon'],
    ['Off_White', 'white', 'lexicon'],
    ['offwhite', 'white', 'lexicon'],
    ['darkgrey', 'grey', 'lexicon'],
    ['Multi-Colour', 'multicolor', 'lexicon'],
    ['Fuschia', 'pink', 'lexicon'],
    ['Crème', 'white', 'lexicon'],
    ['Grün', 'green', 'lexicon'],
    ['Weiß', 'white', 'lexicon'],
    // modifiers keep the family
    ['Washed Black', 'black', 'lexicon'],
    ['Pale Peach', 'orange', 'lexicon'],
    ['Neon Pink', 'pink', 'lexicon'],
    ['Light Wash', 'blue', 'lexicon'],
    ['dark heather', 'grey', 'lexicon'],
    // weak terms lose to a real color
    ['Black Denim', 'black', 'lexicon'],
    ['Heather Navy', 'blue', 'lexicon'],
    // several colors
    ['BLK/WHT', 'multicolor', 'lexicon'],
    ['Black & White', 'multicolor', 'lexicon'],
    ['navy and white', 'multicolor', 'lexicon'],
    ['Black/Black', 'black', 'lexicon'],
    ['Black-White', 'multicolor', 'lexicon'],
    ['Navy White', 'multicolor', 'lexicon'],
    ['Blue-Grey', 'grey', 'lexicon'],
    ['Jet Black', 'black', 'lexicon'],
    ['Snow White', 'white', 'lexicon'],
    ['Navy Stripe', 'blue', 'lexicon'],
    ['Floral', 'multicolor', 'lexicon'],
    // vendor codes
    ['001 Black', 'black', 'lexicon'],
    ['Navy #410', 'blue', 'lexicon'],
    // named-color data set with perceptual matching
    ['Poseidon', 'blue', 'dataset'],
    // not a color / not known: never guessed
    ['One Size', 'unknown', 'unknown'],
    ['See photo', 'unknown', 'unknown'],
    ['Qwzxv', 'unknown', 'unknown'],
    ['', 'unknown', 'unknown'],
    ['Black/Qwzxv', 'unknown', 'unknown'],
  ])('%j → %s via %s', (name, normalized, via) => {
    const result = normalizeColor(name);
    expect(result).toMatchObject({ raw: name, normalized, via });
  });

  it('explains data-set matches with the hex and CIEDE2000 distance', () => {
    const result = normalizeColor('Poseidon');
    expect(result.hex).toMatch(/^#[0-9a-f]{6}$/);
    expect(result.deltaE).toBeGreaterThanOrEqual(0);
    expect(result.matched).toBe('Poseidon');
  });

  it('answers unknown when a data-set hex lies between families', () => {
    // "Sea Salt" is #eee1d7: as near to white as to beige.
    expect(normalizeColor('Sea Salt')).toMatchObject({ normalized: UNKNOWN, via: 'unknown', matched: 'Sea Salt' });
  });

  it('only ever answers a palette color, multicolor or unknown', () => {
    const allowed = new Set([...BASE_COLORS, MULTICOLOR, UNKNOWN]);
    for (const { name } of colornames.slice(0, 3000)) expect(allowed.has(normalizeColor(name).normalized)).toBe(true);
  });

  it('keeps the lexicon consistent with the palette', () => {
    const allowed = new Set([...BASE_COLORS, MULTICOLOR]);
    for (const [term, base] of [...Object.entries(lexicon.terms), ...Object.entries(lexicon.weak)]) {
      expect(allowed.has(base), `${term} → ${base}`).toBe(true);
      expect(normalizeKey(term), `lexicon key "${term}" must be normalized`).toBe(term);
    }
  });

  it('normalizes keys: case, accents, punctuation, separators', () => {
    expect(normalizeKey('  Écru—Blanc/NAVY ')).toBe('ecru blanc / navy');
  });

  it('is fast once warm', () => {
    const names = colornames.slice(5000, 15000).map((c) => `${c.name} x`);
    const start = performance.now();
    for (const name of names) normalizeColor(name);
    const perName = (performance.now() - start) / names.length;
    // A loose ceiling that only catches per-call rebuilding of the indexes (measured: a few µs).
    expect(perName).toBeLessThan(2);
  });
});

describe('accuracy on labeled vendor color names (test/data/vendor-colors.tsv)', () => {
  const results = labeled.map((row) => ({ ...row, result: normalizeColor(row.name) }));
  const correct = results.filter((r) => r.result.normalized === r.label);
  const answered = results.filter((r) => r.result.normalized !== UNKNOWN);
  const wrongAnswers = answered.filter((r) => r.result.normalized !== r.label);
  // Names the lexicon spells out verbatim were curated by the same hand as the list; the rest
  // (modifier stripping, compounds, data set) show how well the matching generalizes.
  const verbatim = (name: string) => {
    const key = normalizeKey(name);
    return key in lexicon.terms || key in lexicon.weak || lexicon.patterns.includes(key) || lexicon.unknown.includes(key);
  };
  const general = results.filter((r) => !verbatim(r.name));
  const generalCorrect = general.filter((r) => r.result.normalized === r.label);

  it('has at least 150 honestly labeled names covering every base color', () => {
    expect(labeled.length).toBeGreaterThanOrEqual(150);
    for (const base of [...BASE_COLORS, MULTICOLOR]) expect(labeled.some((r) => r.label === base), base).toBe(true);
  });

  it('reports accuracy and stays above the floor', () => {
    const accuracy = correct.length / results.length;
    const precision = (answered.length - wrongAnswers.length) / answered.length;
    console.info(
      [
        `vendor colors: ${correct.length}/${results.length} correct (accuracy ${accuracy.toFixed(3)})`,
        `answered ${answered.length} (precision ${precision.toFixed(3)}), unknown ${results.length - answered.length}`,
        `not verbatim in the lexicon: ${generalCorrect.length}/${general.length} correct`,
        `wrong answers: ${wrongAnswers.map((r) => `${r.name}→${r.result.normalized} (want ${r.label})`).join(', ')}`,
      ].join('\n'),
    );
    expect(accuracy).toBeGreaterThanOrEqual(0.9);
    expect(precision).toBeGreaterThanOrEqual(0.95);
    expect(generalCorrect.length / general.length).toBeGreaterThanOrEqual(0.85);
  });
});

describe('accuracy on held-out brand color names (test/data/vendor-colors-holdout.tsv)', () => {
  it('reports accuracy on names never used for tuning and stays above the floor', () => {
    const rows = readLabeled('vendor-colors-holdout.tsv').map((row) => ({ ...row, result: normalizeColor(row.name) }));
    const correct = rows.filter((r) => r.result.normalized === r.label).length;
    const answered = rows.filter((r) => r.result.normalized !== UNKNOWN);
    const wrong = answered.filter((r) => r.result.normalized !== r.label);
    console.info(
      `holdout: ${correct}/${rows.length} correct (accuracy ${(correct / rows.length).toFixed(3)}), ` +
        `precision ${((answered.length - wrong.length) / answered.length).toFixed(3)}; wrong: ` +
        wrong.map((r) => `${r.name}→${r.result.normalized} (want ${r.label})`).join(', '),
    );
    expect(rows.length).toBeGreaterThanOrEqual(100);
    expect(correct / rows.length).toBeGreaterThanOrEqual(0.85);
  });
});

describe('data-set calibration (CIEDE2000 cut-offs)', () => {
  it('agrees with the data set\'s own self-describing names more often with the cut-offs than without', () => {
    // Names like "Harbour Blue" or "Pebble Grey" say their family in the last word: a proxy label
    // for each hex that is independent of the hand-made list above.
    const bases = new Set(BASE_COLORS);
    const samples = colornames.flatMap(({ name, hex }) => {
      const words = name.toLowerCase().replace(/gray/g, 'grey').split(/[^a-z]+/).filter(Boolean);
      const last = words.at(-1) ?? '';
      const named = new Set(words.filter((w) => bases.has(w)));
      return words.length >= 2 && bases.has(last) && named.size === 1 ? [{ label: last, hex }] : [];
    });
    const classified = samples.map((s) => ({ ...s, c: classifyHex(s.hex) }));
    const all = classified.filter((s) => s.c !== undefined);
    const confident = all.filter((s) => s.c?.confident);
    const agree = (list: typeof all) => list.filter((s) => s.c?.base === s.label).length / list.length;
    console.info(
      `calibration: ${samples.length} self-named hexes; nearest anchor agrees ${agree(all).toFixed(3)}; ` +
        `with cut-offs ${agree(confident).toFixed(3)} on ${(confident.length / all.length).toFixed(3)} of them`,
    );
    expect(samples.length).toBeGreaterThan(3000);
    expect(agree(confident)).toBeGreaterThan(agree(all) + 0.05);
    expect(agree(confident)).toBeGreaterThanOrEqual(0.78);
  });
});
