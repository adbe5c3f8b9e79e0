import { posix } from 'node:path';
import { Architecture } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { SWAGGER_UI_FILES, swaggerUiDir } from '../../functions/api/openapi/docsAssets.js';
import type { ModelArtifacts } from '../config/modelArtifacts.js';
import { ensureSharpForLambda, projectSharpVersion, LAMBDA_ARM64 } from './sharpForLambda.js';

export const LAMBDA_ARCHITECTURE = Architecture.ARM_64;
/** Folder inside the bundle (→ /var/task/models) that WEFT_MODELS_DIR points at. */
export const BUNDLED_MODELS_DIR = 'models';
export const LAMBDA_TASK_ROOT = '/var/task';
/** Folder inside the api bundle with the Swagger UI files (→ WEFT_DOCS_ASSETS_DIR). */
export const BUNDLED_DOCS_ASSETS_DIR = 'docs-assets';

/**
 * ESM bundles still meet CommonJS dependencies that call `require` for Node built-ins; esbuild
 * cannot rewrite those, so the bundle gets a module-scoped `require`.
 */
const ESM_REQUIRE_SHIM =
  "import { createRequire as __weftCreateRequire } from 'node:module'; const require = __weftCreateRequire(import.meta.url);";

const quote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

export interface WeftBundlingOptions {
  readonly models: ModelArtifacts;
  /** Install sharp's linux-arm64 build next to the bundle (sharp itself stays external). */
  readonly withSharp: boolean;
  /** Copy swagger-ui-dist's files for /docs next to the bundle (the api function). */
  readonly withDocsAssets?: boolean;
}

export const weftBundling = ({ models, withSharp, withDocsAssets = false }: WeftBundlingOptions): BundlingOptions => ({
  format: OutputFormat.ESM,
  target: 'node24',
  mainFields: ['module', 'main'],
  banner: ESM_REQUIRE_SHIM,
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  logLevel: LogLevel.WARNING,
  // Pin the SDK the tests ran against instead of whatever the runtime image carries.
  bundleAwsSDK: true,
  // Native code cannot be bundled; sharp is installed per platform below. The local model server
  // (onnxruntime-node) never runs in Lambda — SageMaker serves the graph.
  externalModules: withSharp ? ['sharp'] : [],
  commandHooks: {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (_inputDir: string, outputDir: string): string[] => {
      const commands: string[] = [];
      const folders = new Set(models.runtimeFiles.map((file) => posix.dirname(file)));
      for (const folder of [...folders].sort()) {
        commands.push(`mkdir -p ${quote(posix.join(outputDir, BUNDLED_MODELS_DIR, folder))}`);
      }
      for (const file of models.runtimeFiles) {
        commands.push(`cp ${quote(posix.join(models.dir, file))} ${quote(posix.join(outputDir, BUNDLED_MODELS_DIR, file))}`);
      }
      if (withDocsAssets) {
        const source = swaggerUiDir({});
        commands.push(`mkdir -p ${quote(posix.join(outputDir, BUNDLED_DOCS_ASSETS_DIR))}`);
        for (const file of SWAGGER_UI_FILES) commands.push(`cp ${quote(posix.join(source, file))} ${quote(posix.join(outputDir, BUNDLED_DOCS_ASSETS_DIR, file))}`);
      }
      if (models.taxonomyFile) commands.push(`cp ${quote(models.taxonomyFile)} ${quote(posix.join(outputDir, BUNDLED_MODELS_DIR, 'taxonomy.json'))}`);
      if (withSharp) {
        const cache = ensureSharpForLambda(projectSharpVersion(), LAMBDA_ARM64);
        commands.push(`cp -R ${quote(posix.join(cache, 'node_modules'))} ${quote(posix.join(outputDir, 'node_modules'))}`);
      }
      return commands;
    },
  },
});
