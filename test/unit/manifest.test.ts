import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManifestError, loadEnsembleConfig, loadManifest } from '../../functions/shared/manifest.js';

const dirs = ['models/artifacts', 'models/artifacts/fixtures'];
const scratch = (): string => mkdtempSync(join(tmpdir(), 'weft-manifest-'));

describe('model manifests', () => {
  it.each(dirs)('accepts the committed image, text and ensemble files in %s', (dir) => {
    const image = loadManifest(join(dir, 'image/manifest.json'));
    const text = loadManifest(join(dir, 'text/manifest.json'));
    expect(image.modality).toBe('image');
    expect(text.modality).toBe('text');
    expect(image.tasks.map((t) => t.name)).toEqual(text.tasks.map((t) => t.name));
    const ensemble = loadEnsembleConfig(join(dir, 'ensemble.json'));
    expect(Object.keys(ensemble.defaults.weights).length).toBeGreaterThan(0);
  });

  it('names the file when it is missing or not JSON', () => {
    const dir = scratch();
    expect(() => loadManifest(join(dir, 'absent.json'))).toThrow(/model manifest not found: .*absent\.json/);
    writeFileSync(join(dir, 'broken.json'), '{"schemaVersion": 1,');
    expect(() => loadManifest(join(dir, 'broken.json'))).toThrow(/model manifest .*broken\.json is not valid JSON/);
    expect(() => loadEnsembleConfig(join(dir, 'broken.json'))).toThrow(/ensemble config .*broken\.json is not valid JSON/);
  });

  it('rejects an output that names a task the manifest does not declare', () => {
    const manifest = JSON.parse(readFileSync('models/artifacts/fixtures/image/manifest.json', 'utf8'));
    manifest.outputs[0].task = 'fabric';
    const file = join(scratch(), 'manifest.json');
    writeFileSync(file, JSON.stringify(manifest));
    expect(() => loadManifest(file)).toThrow(ManifestError);
    expect(() => loadManifest(file)).toThrow(/names unknown task fabric/);
  });
});
