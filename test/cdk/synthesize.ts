/**
 * Synthesizes a Weft stack the way `cdk synth` does (same feature flags from cdk.json, same
 * cdk-nag plugin), into a temporary cloud assembly whose bundles the tests can inspect.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { resolveEnvironment, type EnvironmentConfig, type EnvironmentOverrides } from '../../lib/config/environments.js';
import { loadModelArtifacts, REPO_ROOT } from '../../lib/config/modelArtifacts.js';
import { WeftStack } from '../../lib/WeftStack.js';

/** The committed fixtures: same contract as trained models, independent of whether P1 trained. */
export const FIXTURE_MODELS_DIR = 'models/artifacts/fixtures';

export interface Synthesized {
  readonly config: EnvironmentConfig;
  readonly app: App;
  readonly stack: WeftStack;
  readonly template: Template;
  readonly json: CfnTemplate;
  /** Cloud assembly folder (holds asset.<hash>/ bundles). */
  readonly outdir: string;
  readonly templateFile: string;
  /** Findings cdk-nag's AwsSolutions pack reports that no acknowledgement covers. */
  readonly nagViolations: { ruleName: string; resources: string[] }[];
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, any>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  DependsOn?: string[];
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, unknown>;
  Mappings?: Record<string, unknown>;
}

const cdkJsonContext = (): Record<string, unknown> =>
  (JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> }).context ?? {};

export const synthesize = (env: string, overrides: EnvironmentOverrides = {}): Synthesized => {
  const config = resolveEnvironment(env, overrides);
  const outdir = mkdtempSync(join(tmpdir(), `weft-cdk-${env}-`));
  const app = new App({ outdir, context: cdkJsonContext() });
  const stack = new WeftStack(app, `Weft-${config.name}`, {
    config,
    models: loadModelArtifacts(FIXTURE_MODELS_DIR),
    env: { account: config.account, region: config.region },
  });
  const assembly = app.synth();
  // Aspects (which record acknowledgements) have run during synth; validate the finished tree.
  const report = new AwsSolutionsChecks(app).validateScope(app);
  const artifact = assembly.getStackByName(stack.stackName);
  const json = artifact.template as CfnTemplate;
  return {
    config,
    app,
    stack,
    template: Template.fromJSON(json as never),
    json,
    outdir,
    templateFile: join(outdir, artifact.templateFile),
    nagViolations: report.violations.map((v) => ({ ruleName: v.ruleName, resources: v.violatingResources.map((r) => r.constructPath ?? '?') })),
  };
};

export const resourcesOfType = (json: CfnTemplate, type: string): [string, CfnResource][] =>
  Object.entries(json.Resources).filter(([, r]) => r.Type === type);

/** Asset hashes and fixture versions change with every model export or handler edit. */
export const scrubTemplate = (json: CfnTemplate): CfnTemplate =>
  JSON.parse(
    JSON.stringify(json)
      .replace(/[0-9a-f]{64}(\.(zip|gz|json))?/g, '<asset-hash>$1')
      .replace(/"WEFT_MODEL_VERSION":"[^"]*"/g, '"WEFT_MODEL_VERSION":"<model-version>"'),
  ) as CfnTemplate;
