/**
 * CDK app: `npx cdk synth -c env=dev` (or staging, prod). Optional context:
 * account, region, inferenceMode (realtime|async), apiAuthorization (iam|none), alarmEmail,
 * modelsDir (defaults to trained artifacts, else fixtures).
 */
import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ManifestError } from '../functions/shared/manifest.js';
import { EnvironmentConfigError, resolveEnvironment } from '../lib/config/environments.js';
import { loadModelArtifacts, ModelArtifactsError } from '../lib/config/modelArtifacts.js';
import { UnsupportedRegionError } from '../lib/inference/tritonImage.js';
import { WeftStack } from '../lib/WeftStack.js';

const app = new App();
const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  return value === undefined || value === null || value === '' ? undefined : String(value);
};

const build = (): void => {
  const config = resolveEnvironment(context('env'), {
    account: context('account') ?? process.env.CDK_DEFAULT_ACCOUNT,
    // The environment table names the region; only an explicit -c region=… overrides it.
    region: context('region'),
    inferenceMode: context('inferenceMode'),
    apiAuthorization: context('apiAuthorization'),
    alarmEmail: context('alarmEmail'),
  });
  const models = loadModelArtifacts(context('modelsDir'));
  if (/[\\/]fixtures[\\/]?$/.test(models.dir)) {
    // Fine for trying the stack out; real tagging needs trained models (models/README.md).
    console.warn(`weft cdk: deploying the untrained fixture models from ${models.dir}; export trained models or pass -c modelsDir=…`);
  }
  const stack = new WeftStack(app, `Weft-${config.name}`, {
    config,
    models,
    env: { account: config.account, region: config.region },
    description: `Weft product attribute pipeline (${config.name})`,
  });
  Tags.of(stack).add('project', 'weft');
  Tags.of(stack).add('environment', config.name);
  // Any unacknowledged finding fails synthesis; acknowledgements carry their reasons in lib/.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
};

try {
  build();
} catch (error) {
  // Configuration mistakes are the user's to fix: say what is wrong, without a stack trace.
  const expected = [EnvironmentConfigError, ModelArtifactsError, ManifestError, UnsupportedRegionError];
  if (!expected.some((kind) => error instanceof kind)) throw error;
  console.error(`weft cdk: ${(error as Error).message}`);
  process.exit(1);
}
