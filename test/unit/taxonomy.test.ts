/**
 * The taxonomy mapping: schema rules, every label of the committed manifests mapped or explicitly
 * unmapped, every id present in the pinned release files kept as test data (the current file is
 * exactly what a refresh from them produces), and the refresh report on a changed release.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { loadManifest } from '../../functions/shared/manifest.js';
import { taskCatalog } from '../../functions/shared/products/ensemble.js';
import { checkMapping, mappingErrors } from '../../functions/shared/taxonomy/check.js';
import { loadTaxonomyMapping, parseTaxonomyMapping, resolveTaxonomyFile, taxonomyMappingJsonSchema, TaxonomyError, type TaxonomyMapping } from '../../functions/shared/taxonomy/mapping.js';
import { formatChanges, refreshMapping } from '../../functions/shared/taxonomy/refresh.js';
import { readCategorySuccessors, readTaxonomyRelease } from '../../functions/shared/taxonomy/release.js';
import { TaxonomyIndex } from '../../functions/shared/taxonomy/taxonomyIndex.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAPPING_FILE = join(ROOT, 'models/artifacts/taxonomy.json');
const RELEASE_DIR = join(ROOT, 'test/data/shopify-taxonomy');
const GOOGLE_FILE = 'integrations/google/shopify_2026-08_to_google_2021-09-21.json';

const raw = (): any => JSON.parse(readFileSync(MAPPING_FILE, 'utf8'));
const entryOf = (doc: any, task: string, label: string) => doc.entries.find((e: any) => e.task === task && e.label === label);
const catalogOf = (dir: string) => taskCatalog(['image', 'text'].map((m) => loadManifest(join(dir, m, 'manifest.json'))));

describe('taxonomy mapping', () => {
  it.each(['models/artifacts', 'models/artifacts/fixtures'])('maps every label of the manifests in %s, or says why not', (dir) => {
    const file = resolveTaxonomyFile(join(ROOT, dir), {});
    expect(file).toBe(MAPPING_FILE);
    const mapping = loadTaxonomyMapping(file!);
    const catalog = catalogOf(join(ROOT, dir));
    const report = checkMapping(mapping, catalog);
    expect(mappingErrors(report)).toEqual([]);
    const labels = Object.values(catalog).reduce((n, l) => n + l.length, 0);
    expect(report.mapped + report.unmapped.length).toBe(labels);
    for (const u of report.unmapped) expect(u.reason.length).toBeGreaterThanOrEqual(8);
  });

  it('records the pinned release and its sources', () => {
    const { release } = loadTaxonomyMapping(MAPPING_FILE);
    expect(release).toMatchObject({ taxonomy: 'shopify', version: '2026-08', google: '2021-09-21' });
    expect(release.sources).toContain(`dist/en/${GOOGLE_FILE}`);
  });

  it('is exactly what a refresh from the pinned release files produces: every id exists there, names and Google ids agree', () => {
    const mapping = loadTaxonomyMapping(MAPPING_FILE);
    const release = readTaxonomyRelease(RELEASE_DIR);
    expect(release.version).toBe(mapping.release.version);
    const result = refreshMapping(mapping, release);
    expect(result.changes).toEqual([]);
    expect(result.mapping).toEqual(mapping);
    for (const entry of mapping.entries) {
      if (!('shopify' in entry)) continue;
      const inRelease = release.categories.has(entry.shopify.id) || [...release.attributes.values()].some((a) => a.values.some((v) => v.id === entry.shopify.id));
      expect(inRelease, `${entry.task}/${entry.label} ${entry.shopify.id}`).toBe(true);
    }
  });

  it('derives each category\'s Google category from Shopify\'s mapping file, not by hand', () => {
    const google = JSON.parse(readFileSync(join(RELEASE_DIR, GOOGLE_FILE), 'utf8'));
    const rules = new Map<string, { id: string; full_name: string }>(google.mappings[0].rules.map((r: any) => [r.input.category.id, r.output.category[0]]));
    const index = new TaxonomyIndex(loadTaxonomyMapping(MAPPING_FILE));
    for (const entry of index.mapping.entries) {
      if (entry.task !== index.categoryTask() || !('shopify' in entry)) continue;
      const rule = rules.get(entry.shopify.id);
      expect(entry.google).toEqual({ id: rule!.id, path: rule!.full_name });
    }
  });

  it('reports a label without an entry, a task it does not declare and a stale entry', () => {
    const mapping = loadTaxonomyMapping(MAPPING_FILE);
    const base = catalogOf(join(ROOT, 'models/artifacts'));
    const catalog: Record<string, readonly string[]> = { ...base, category: [...base.category!.filter((l) => l !== 'trouser'), 'kimono'], fit: ['slim', 'loose'] };
    const errors = mappingErrors(checkMapping(mapping, catalog));
    expect(errors).toEqual([
      'task fit is not declared in the taxonomy mapping',
      'category/kimono has no taxonomy entry (map it, or mark it "unmapped" with a reason)',
      'fit/slim has no taxonomy entry (map it, or mark it "unmapped" with a reason)',
      'fit/loose has no taxonomy entry (map it, or mark it "unmapped" with a reason)',
      'category/trouser is mapped but no model manifest declares it',
    ]);
  });

  it('accepts an explicitly unmapped label and reports it with its reason', () => {
    const doc = raw();
    const catalog = catalogOf(join(ROOT, 'models/artifacts'));
    const before = checkMapping(loadTaxonomyMapping(MAPPING_FILE), catalog);
    doc.entries[doc.entries.indexOf(entryOf(doc, 'category', 'bag'))] = { task: 'category', label: 'bag', unmapped: 'no bag category fits the class' };
    const report = checkMapping(parseTaxonomyMapping(doc, 'test'), catalog);
    expect(report.unmapped).toEqual(expect.arrayContaining([{ task: 'category', label: 'bag', reason: 'no bag category fits the class' }, ...before.unmapped]));
    expect(report.unmapped).toHaveLength(before.unmapped.length + 1);
    expect(report.mapped).toBe(before.mapped - 1);
    expect(mappingErrors(report)).toEqual([]);
    expect(new TaxonomyIndex(parseTaxonomyMapping(doc, 'test')).attributeTaxonomy('category', 'bag')).toBeUndefined();
  });

  it.each<[string, (doc: any) => void, string]>([
    ['a schema version it does not know', (d) => (d.schemaVersion = 2), 'schemaVersion'],
    ['a release that is not a version', (d) => (d.release.version = 'August'), 'release.version'],
    ['a duplicate entry', (d) => d.entries.push(structuredClone(d.entries[0])), 'duplicate entry for category/tshirt_top'],
    ['a value of another attribute', (d) => (entryOf(d, 'color', 'red').shopify.handle = 'pattern__red'), 'is not a value of attribute color'],
    ['a Google category on a value', (d) => (entryOf(d, 'color', 'red').google = { id: '1', path: 'x' }), 'only categories carry a Google product category'],
    ['a value id for a category', (d) => (entryOf(d, 'category', 'dress').shopify.id = 'gid://shopify/TaxonomyValue/1'), 'a category task maps to a TaxonomyCategory'],
    ['an undeclared task', (d) => (entryOf(d, 'pattern', 'solid').task = 'fabric'), 'entry names task "fabric"'],
    ['an unmapped label without a real reason', (d) => d.entries.push({ task: 'color', label: 'teal', unmapped: 'no' }), 'entries'],
    ['an unknown key', (d) => (entryOf(d, 'color', 'red').colour = 'red'), 'colour'],
  ])('rejects %s with a named error', (_what, mutate, message) => {
    const doc = raw();
    mutate(doc);
    expect(() => parseTaxonomyMapping(doc, 'test')).toThrow(TaxonomyError);
    expect(() => parseTaxonomyMapping(doc, 'test')).toThrow(message);
  });

  it('has its JSON Schema committed beside it, generated from the validator, and valid against it', () => {
    const committed = JSON.parse(readFileSync(join(ROOT, 'models/artifacts/taxonomy.schema.json'), 'utf8'));
    expect(committed).toEqual(taxonomyMappingJsonSchema());
    const validate = new Ajv2020({ strict: false }).compile(committed);
    expect(validate(raw()), JSON.stringify(validate.errors)).toBe(true);
    const broken = raw();
    entryOf(broken, 'color', 'red').shopify.id = 'red';
    expect(validate(broken)).toBe(false);
  });

  it('names the file when it is missing or not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-taxonomy-'));
    expect(() => loadTaxonomyMapping(join(dir, 'taxonomy.json'))).toThrow(/taxonomy mapping not found: .*taxonomy\.json/);
    writeFileSync(join(dir, 'taxonomy.json'), '{');
    expect(() => loadTaxonomyMapping(join(dir, 'taxonomy.json'))).toThrow(/is not valid JSON/);
  });
});

describe('taxonomy refresh', () => {
  /** A copy of the pinned release files, edited as a newer release might be. */
  const newerRelease = (edit: (google: any, attributes: any) => void): string => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-release-'));
    cpSync(RELEASE_DIR, dir, { recursive: true });
    const google = JSON.parse(readFileSync(join(dir, GOOGLE_FILE), 'utf8'));
    const attributes = JSON.parse(readFileSync(join(dir, 'attributes.json'), 'utf8'));
    google.version = '2026-11';
    google.mappings[0].input_taxonomy = 'shopify/2026-11';
    attributes.version = '2026-11';
    edit(google, attributes);
    writeFileSync(join(dir, 'integrations/google/shopify_2026-11_to_google_2021-09-21.json'), JSON.stringify(google));
    rmSync(join(dir, GOOGLE_FILE));
    writeFileSync(join(dir, 'attributes.json'), JSON.stringify(attributes));
    return dir;
  };

  const rule = (google: any, id: string) => google.mappings[0].rules.find((r: any) => r.input.category.id === `gid://shopify/TaxonomyCategory/${id}`);
  const value = (attributes: any, handle: string) => attributes.attributes.flatMap((a: any) => a.values).find((v: any) => v.handle === handle);

  it('reports renamed, removed, moved and Google-changed categories, renamed and new values, and rewrites the file', () => {
    const mapping: TaxonomyMapping = loadTaxonomyMapping(MAPPING_FILE);
    const dir = newerRelease((google, attributes) => {
      rule(google, 'aa-1-13-8').input.category.full_name = 'Apparel & Accessories > Clothing > Clothing Tops > T-shirts';
      rule(google, 'aa-1-10-2').output.category[0] = { id: '5598', full_name: 'Apparel & Accessories > Clothing > Outerwear > Coats' };
      google.mappings[0].rules = google.mappings[0].rules.filter((r: any) => !['gid://shopify/TaxonomyCategory/aa-8-3', 'gid://shopify/TaxonomyCategory/aa-5-4'].includes(r.input.category.id));
      google.mappings[0].rules.push({ input: { category: { id: 'gid://shopify/TaxonomyCategory/aa-5-9', full_name: 'Apparel & Accessories > Handbags, Wallets & Cases > Handbags' } }, output: { category: [{ id: '3032', full_name: 'Apparel & Accessories > Handbags, Wallets & Cases > Handbags' }] } });
      value(attributes, 'color__gray').name = 'Grey';
      attributes.attributes[0].values.push({ id: 'gid://shopify/TaxonomyValue/99999', name: 'Taupe', handle: 'color__taupe' });
    });
    mkdirSync(join(dir, 'integrations/shopify'), { recursive: true });
    writeFileSync(
      join(dir, 'integrations/shopify/shopify_2026-08_to_shopify_2026-11.json'),
      JSON.stringify({
        version: '2026-11',
        mappings: [
          {
            input_taxonomy: 'shopify/2026-08',
            output_taxonomy: 'shopify/2026-11',
            rules: [{ input: { category: { id: 'gid://shopify/TaxonomyCategory/aa-5-4', full_name: 'x' } }, output: { category: [{ id: 'gid://shopify/TaxonomyCategory/aa-5-9', full_name: 'y' }] } }],
          },
        ],
      }),
    );
    const release = readTaxonomyRelease(dir, '2026-11');
    const result = refreshMapping(mapping, release, readCategorySuccessors(dir, '2026-08', '2026-11'));
    const lines = formatChanges('2026-08', result).split('\n');
    expect(lines[0]).toBe('Shopify taxonomy 2026-08 -> 2026-11 (Google 2021-09-21)');
    expect(lines).toContain('removed    category/ankle_boot: category gid://shopify/TaxonomyCategory/aa-8-3 "Apparel & Accessories > Shoes > Boots" is not in release 2026-11; marked unmapped');
    expect(lines).toContain('moved      category/bag: category gid://shopify/TaxonomyCategory/aa-5-4 is gid://shopify/TaxonomyCategory/aa-5-9 in release 2026-11');
    expect(lines).toContain(
      'renamed    category/tshirt_top: gid://shopify/TaxonomyCategory/aa-1-13-8 "Apparel & Accessories > Clothing > Clothing Tops > T-Shirts" is now "Apparel & Accessories > Clothing > Clothing Tops > T-shirts"',
    );
    expect(lines).toContain(
      'google     category/coat: Google category 5598 "Apparel & Accessories > Clothing > Outerwear > Coats & Jackets" is now 5598 "Apparel & Accessories > Clothing > Outerwear > Coats"',
    );
    expect(lines).toContain('renamed    color/grey: gid://shopify/TaxonomyValue/8 color__gray "Gray" is now color__gray "Grey"');
    expect(lines).toContain('new-value  color: color__taupe "Taupe" (gid://shopify/TaxonomyValue/99999) is new in release 2026-11; no color label uses it');
    expect(lines.at(-1)).toBe('5 changes to review');

    const next = result.mapping;
    expect(next.release.version).toBe('2026-11');
    expect(entryOf(next, 'category', 'ankle_boot')).toEqual({ task: 'category', label: 'ankle_boot', unmapped: expect.stringContaining('removed in Shopify taxonomy 2026-11') });
    expect(entryOf(next, 'category', 'bag').shopify.id).toBe('gid://shopify/TaxonomyCategory/aa-5-9');
    expect(entryOf(next, 'category', 'tshirt_top').shopify.name).toBe('T-shirts');
    // The regenerated file is valid, and the validator now asks for a decision on ankle_boot.
    const catalog = catalogOf(join(ROOT, 'models/artifacts'));
    const unmappedBefore = new Set(checkMapping(mapping, catalog).unmapped.map((u) => `${u.task}/${u.label}`));
    const report = checkMapping(parseTaxonomyMapping(next, 'refreshed'), catalog);
    expect(report.unmapped.map((u) => `${u.task}/${u.label}`).filter((key) => !unmappedBefore.has(key))).toEqual(['category/ankle_boot']);
    expect(next.tasks.find((t) => t.name === 'color')).toMatchObject({ releaseValues: expect.arrayContaining(['gid://shopify/TaxonomyValue/99999']) });
  });

  it('names the release files it could not find', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-release-'));
    expect(() => readTaxonomyRelease(dir)).toThrow(/expected exactly one integrations\/google\/shopify_<release>_to_google_<version>\.json .* found: none/);
    expect(() => readTaxonomyRelease(RELEASE_DIR, '2030-01')).toThrow(/shopify_2030-01_to_google_<version>\.json .* found: shopify_2026-08_to_google_2021-09-21\.json/);
  });
});
