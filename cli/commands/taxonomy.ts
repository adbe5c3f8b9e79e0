/**
 * `weft taxonomy`: the mapping of model labels to the Shopify Standard Product Taxonomy.
 *
 *   weft taxonomy check                         every label mapped or unmapped with a reason
 *   weft taxonomy refresh <dist/en> [--write]   regenerate from a release; print what changed
 *   weft taxonomy schema [--out FILE]           the mapping's JSON Schema (generated from the zod schema)
 *
 * The mapping is `taxonomy.json` of the models folder (WEFT_MODELS_DIR, else the trained artifacts,
 * else the fixtures, which share the artifacts' file); `--file` names another.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadModelSet } from '../../functions/shared/ingest/config.js';
import { resolveModelsDir } from '../../functions/shared/manifest.js';
import { checkMapping, mappingErrors } from '../../functions/shared/taxonomy/check.js';
import { loadTaxonomyMapping, resolveTaxonomyFile, taxonomyMappingJsonSchema, TaxonomyError } from '../../functions/shared/taxonomy/mapping.js';
import { formatChanges, refreshMapping } from '../../functions/shared/taxonomy/refresh.js';
import { readCategorySuccessors, readTaxonomyRelease } from '../../functions/shared/taxonomy/release.js';

interface FileOptions {
  file?: string;
  modelsDir?: string;
}

const mappingFile = (opts: FileOptions): string => {
  const file = opts.file ?? resolveTaxonomyFile(opts.modelsDir ?? resolveModelsDir());
  if (!file) throw new TaxonomyError(`no taxonomy.json for the models in ${opts.modelsDir ?? resolveModelsDir()} (pass --file)`);
  return file;
};

const check = (opts: FileOptions): number => {
  const file = mappingFile(opts);
  const mapping = loadTaxonomyMapping(file);
  const modelsDir = opts.modelsDir ?? resolveModelsDir();
  const report = checkMapping(mapping, loadModelSet(modelsDir).catalog);
  console.log(`${file}: Shopify taxonomy ${mapping.release.version}, ${report.mapped} labels mapped, ${report.unmapped.length} unmapped (models in ${modelsDir})`);
  for (const u of report.unmapped) console.log(`unmapped ${u.task}/${u.label}: ${u.reason}`);
  const errors = mappingErrors(report);
  for (const error of errors) console.error(`error ${error}`);
  return errors.length > 0 ? 1 : 0;
};

const refresh = (dir: string, opts: FileOptions & { release?: string; write?: boolean }): number => {
  const file = mappingFile(opts);
  const mapping = loadTaxonomyMapping(file);
  const release = readTaxonomyRelease(dir, opts.release);
  const successors = readCategorySuccessors(dir, mapping.release.version, release.version);
  const result = refreshMapping(mapping, release, successors);
  console.log(formatChanges(mapping.release.version, result));
  if (opts.write) {
    writeFileSync(file, `${JSON.stringify(result.mapping, null, 2)}\n`);
    console.log(`wrote ${file}; review the diff, then run weft taxonomy check`);
  } else {
    console.log('(dry run: pass --write to update the mapping)');
  }
  return 0;
};

const run = (action: () => number): void => {
  try {
    process.exitCode = action();
  } catch (error) {
    if (!(error instanceof TaxonomyError) && !(error instanceof Error && error.name === 'ManifestError')) throw error;
    console.error(`weft taxonomy: ${error.message}`);
    process.exitCode = 2;
  }
};

export const register = (program: Command): void => {
  const taxonomy = program.command('taxonomy').description('the mapping of model labels to Shopify taxonomy ids and Google product categories');
  taxonomy
    .command('check')
    .description('check that every label of the model manifests is mapped, or explicitly unmapped with a reason')
    .option('--file <taxonomy.json>', 'mapping file (default: taxonomy.json of the models folder)')
    .option('--models-dir <dir>', 'models folder whose manifests to check against')
    .action((opts: FileOptions) => run(() => check(opts)));
  taxonomy
    .command('refresh')
    .description('regenerate the mapping from a Shopify taxonomy release folder (dist/en) and print what changed')
    .argument('<dist>', 'release folder with attributes.json and integrations/google/shopify_<release>_to_google_<version>.json')
    .option('--release <version>', 'release to read when the folder has several Google mapping files')
    .option('--write', 'write the regenerated mapping (otherwise only report)')
    .option('--file <taxonomy.json>', 'mapping file (default: taxonomy.json of the models folder)')
    .option('--models-dir <dir>', 'models folder whose taxonomy.json to refresh')
    .action((dist: string, opts: FileOptions & { release?: string; write?: boolean }) => run(() => refresh(dist, opts)));
  taxonomy
    .command('schema')
    .description('print (or write) the JSON Schema of the mapping file')
    .option('--out <file>', 'write it here (models/artifacts/taxonomy.schema.json is the committed copy)')
    .action((opts: { out?: string }) =>
      run(() => {
        const text = `${JSON.stringify(taxonomyMappingJsonSchema(), null, 2)}\n`;
        if (opts.out) writeFileSync(opts.out, text);
        else process.stdout.write(text);
        return 0;
      }),
    );
};
