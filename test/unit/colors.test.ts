/**
 * Colors for each audience: the family with its provenance, the vendor's name, and Google's color
 * within Google's limits — never a value the data does not hold.
 */
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeColor } from '../../functions/shared/color/normalizeColor.js';
import { colorAudiences, GOOGLE_COLOR_LIMITS } from '../../functions/shared/taxonomy/colors.js';
import { loadTaxonomyMapping, parseTaxonomyMapping } from '../../functions/shared/taxonomy/mapping.js';
import { TaxonomyIndex } from '../../functions/shared/taxonomy/taxonomyIndex.js';

const FILE = join(resolve(import.meta.dirname, '../..'), 'models/artifacts/taxonomy.json');
const taxonomy = new TaxonomyIndex(loadTaxonomyMapping(FILE));
const color = (value: string | null, confidence = 0.9, human = false) => ({
  color: { value, confidence, sources: { text: { value: value ?? 'red', confidence, weight: human ? 0 : 1 }, ...(human ? { human: { value: value!, confidence: 1, weight: 1 } } : {}) } },
});
const vendor = (raw: string) => ({ raw, normalized: normalizeColor(raw).normalized });

describe('colors for each audience', () => {
  it('gives Google the vendor\'s own name and facets the family', () => {
    expect(colorAudiences(taxonomy, color('brown'), vendor('Toasted Walnut'))).toEqual({
      family: { value: 'brown', name: 'Brown', confidence: 0.9, source: 'models' },
      vendor: { name: 'Toasted Walnut', family: 'brown' },
      google: { value: 'Toasted Walnut', from: 'vendor' },
    });
  });

  it('accepts a vendor name that lists up to three colors, and nothing vaguer', () => {
    expect(colorAudiences(taxonomy, color(null), vendor('Black/White'))?.google).toEqual({ value: 'Black/White', from: 'vendor' });
    expect(colorAudiences(taxonomy, color(null), vendor('Black/White/Red/Blue'))?.google).toBeUndefined();
    expect(colorAudiences(taxonomy, color(null), vendor('Assorted'))?.google).toBeUndefined();
    expect(colorAudiences(taxonomy, color(null), vendor('Multi'))).toEqual({ vendor: { name: 'Multi', family: 'multicolor' } });
  });

  it('falls back to the family\'s taxonomy name when the vendor name breaks Google\'s 40-character limit', () => {
    const long = 'Deep Midnight Ocean Blue With A Hint Of Teal';
    expect(long.length).toBeGreaterThan(GOOGLE_COLOR_LIMITS.perColor);
    expect(colorAudiences(taxonomy, color('blue'), { raw: long, normalized: 'blue' })?.google).toEqual({ value: 'Blue', from: 'family' });
  });

  it('invents nothing when the models abstain or fall below the minimum and the vendor gave no color', () => {
    expect(colorAudiences(taxonomy, color(null), undefined)).toEqual({});
    expect(colorAudiences(taxonomy, color('red', 0.4), undefined, 0.5)).toEqual({});
  });

  it('lets a human correction win over a vendor name that disagrees', () => {
    expect(colorAudiences(taxonomy, color('purple', 1, true), vendor('Ruby'))).toMatchObject({ family: { value: 'purple', source: 'human' }, google: { value: 'Purple', from: 'family' } });
  });

  it('gives no single color for a label the mapping marks multicolor', () => {
    const doc = JSON.parse(JSON.stringify(taxonomy.mapping));
    doc.entries.find((e: any) => e.task === 'color' && e.label === 'purple').multicolor = true;
    const marked = new TaxonomyIndex(parseTaxonomyMapping(doc, 'test'));
    expect(colorAudiences(marked, color('purple'), undefined)).toEqual({ family: { value: 'purple', name: 'Purple', confidence: 0.9, source: 'models' } });
  });
});
