import { describe, expect, it } from 'vitest';
import { EnsembleConfigSchema } from '../../functions/shared/manifest.js';
import { mergeAttributes, oneHot, taskCatalog, taskSettings, toDistribution, type EnsembleSource } from '../../functions/shared/products/ensemble.js';

// Task names and labels are test inputs here; production code gets them from the manifests.
const catalog = taskCatalog([
  { tasks: [{ name: 'color', labels: ['red', 'blue', 'green'] }, { name: 'pattern', labels: ['solid', 'striped'] }] },
  { tasks: [{ name: 'color', labels: ['red', 'blue', 'green', 'black'] }, { name: 'gender', labels: ['women', 'men'] }] },
]);

const config = EnsembleConfigSchema.parse({
  schemaVersion: 1,
  defaults: { weights: { image: 0.5, text: 0.5, rules: 0.5 }, threshold: 0 },
  tasks: { color: { weights: { image: 0.6, text: 0.2, rules: 0.2 }, threshold: 0.4 } },
});

const image = (name: string, predictions: EnsembleSource['predictions'], weight?: number): EnsembleSource => ({
  id: `image:${name}`,
  kind: 'image',
  predictions,
  ...(weight !== undefined ? { weight } : {}),
});

describe('taskCatalog', () => {
  it('unions tasks and labels across manifests in manifest order', () => {
    expect(catalog).toEqual({ color: ['red', 'blue', 'green', 'black'], pattern: ['solid', 'striped'], gender: ['women', 'men'] });
  });
});

describe('toDistribution', () => {
  it('keys probabilities by label', () => {
    expect(toDistribution(['a', 'b'], [0.25, 0.75])).toEqual({ a: 0.25, b: 0.75 });
  });
  it('rejects a vector of the wrong length', () => {
    expect(() => toDistribution(['a', 'b'], [1])).toThrow(/expected 2/);
  });
});

describe('taskSettings', () => {
  it('falls back to default weights kind by kind', () => {
    const cfg = EnsembleConfigSchema.parse({ schemaVersion: 1, defaults: { weights: { image: 1, text: 1, rules: 0.3 }, threshold: 0.1 }, tasks: { color: { weights: { image: 2 } } } });
    expect(taskSettings(cfg, 'color')).toEqual({ weights: { image: 2, text: 1, rules: 0.3 }, threshold: 0 });
    expect(taskSettings(cfg, 'pattern')).toEqual({ weights: { image: 1, text: 1, rules: 0.3 }, threshold: 0.1 });
  });
});

describe('mergeAttributes', () => {
  it('averages images, then combines kinds with the task weights', () => {
    const sources: EnsembleSource[] = [
      image('a.jpg', { color: { red: 0.8, blue: 0.2, green: 0 } }),
      image('b.jpg', { color: { red: 0.4, blue: 0.6, green: 0 } }),
      { id: 'text', kind: 'text', predictions: { color: { red: 0, blue: 1, green: 0 } } },
    ];
    const result = mergeAttributes(sources, catalog, config);
    // image mean: red .6 blue .4; weights image .6/.8 = .75, text .2/.8 = .25 → red .45 blue .55
    expect(result.color?.value).toBe('blue');
    expect(result.color?.confidence).toBeCloseTo(0.55, 6);
    expect(result.color?.sources).toEqual({
      'image:a.jpg': { value: 'red', confidence: 0.8, weight: 0.375 },
      'image:b.jpg': { value: 'blue', confidence: 0.6, weight: 0.375 },
      text: { value: 'blue', confidence: 1, weight: 0.25 },
    });
  });

  it('weights images by their own weight when given', () => {
    const result = mergeAttributes(
      [image('front.jpg', { pattern: { solid: 1, striped: 0 } }, 3), image('detail.jpg', { pattern: { solid: 0, striped: 1 } }, 1)],
      catalog,
      config,
    );
    expect(result.pattern).toMatchObject({ value: 'solid', confidence: 0.75 });
  });

  it('renormalizes over the sources that are present', () => {
    const result = mergeAttributes([{ id: 'rules', kind: 'rules', predictions: { color: oneHot('green') } }], catalog, config);
    expect(result.color).toEqual({ value: 'green', confidence: 1, sources: { rules: { value: 'green', confidence: 1, weight: 1 } } });
  });

  it('abstains below the task threshold but still explains', () => {
    const result = mergeAttributes([image('a.jpg', { color: { red: 0.35, blue: 0.33, green: 0.32 } })], catalog, config);
    expect(result.color?.value).toBeNull();
    expect(result.color?.confidence).toBeCloseTo(0.35, 6);
    expect(result.color?.sources['image:a.jpg']?.value).toBe('red');
  });

  it('lets a human correction win over every model', () => {
    const result = mergeAttributes(
      [
        image('a.jpg', { color: { red: 0.99, blue: 0.01, green: 0 } }),
        { id: 'text', kind: 'text', predictions: { color: { red: 1 } } },
        { id: 'human', kind: 'human', predictions: { color: oneHot('black') } },
      ],
      catalog,
      config,
    );
    expect(result.color?.value).toBe('black');
    expect(result.color?.confidence).toBe(1);
    expect(result.color?.sources.human).toEqual({ value: 'black', confidence: 1, weight: 1 });
    expect(result.color?.sources['image:a.jpg']?.weight).toBe(0);
  });

  it('ignores labels and tasks the manifests do not declare, and omits tasks without evidence', () => {
    const result = mergeAttributes(
      [image('a.jpg', { color: { red: 0.2, purple: 0.8 }, sleeve: { long: 1 } })],
      catalog,
      config,
    );
    expect(Object.keys(result)).toEqual(['color']);
    expect(result.color).toMatchObject({ value: 'red', confidence: 1 });
  });

  it('uses equal weights when no present kind has a weight', () => {
    const cfg = EnsembleConfigSchema.parse({ schemaVersion: 1, defaults: { weights: {} } });
    const result = mergeAttributes(
      [image('a.jpg', { gender: { women: 1, men: 0 } }), { id: 'text', kind: 'text', predictions: { gender: { women: 0, men: 1 } } }],
      catalog,
      cfg,
    );
    // A tie resolves to the first label in manifest order.
    expect(result.gender).toMatchObject({ value: 'women', confidence: 0.5 });
  });

  it('gives a zero-weight kind no say when another kind is weighted', () => {
    const cfg = EnsembleConfigSchema.parse({ schemaVersion: 1, defaults: { weights: { image: 1, text: 0 } } });
    const result = mergeAttributes(
      [image('a.jpg', { gender: { women: 0.7, men: 0.3 } }), { id: 'text', kind: 'text', predictions: { gender: { women: 0, men: 1 } } }],
      catalog,
      cfg,
    );
    expect(result.gender).toMatchObject({ value: 'women', confidence: 0.7 });
    expect(result.gender?.sources.text?.weight).toBe(0);
  });
});

describe('names that exist on Object.prototype', () => {
  it('are ordinary task names and labels in the catalog, distributions and the merge', () => {
    const odd = taskCatalog([{ tasks: [{ name: 'constructor', labels: ['__proto__', 'toString'] }] }]);
    expect(Object.keys(odd)).toEqual(['constructor']);
    expect(odd.constructor).toEqual(['__proto__', 'toString']);
    const distribution = toDistribution(['__proto__', 'toString'], [0.8, 0.2]);
    expect(Object.getPrototypeOf(distribution)).toBe(Object.prototype);
    expect(Object.keys(distribution)).toEqual(['__proto__', 'toString']);
    const merged = mergeAttributes([image('a.jpg', { constructor: distribution })], odd, config);
    expect(merged.constructor).toMatchObject({ value: '__proto__', confidence: 0.8 });
    // A source without a prediction for a task does not find one on Object.prototype.
    expect(mergeAttributes([image('a.jpg', {})], odd, config)).toEqual({});
  });
});
