/** Environment configuration and the small pure pieces of the CDK app (no bundling, fast). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { AttributeType, ProjectionType } from 'aws-cdk-lib/aws-dynamodb';
import { describe, expect, it } from 'vitest';
import { tableDefinition } from '../../functions/shared/products/tableDefinition.js';
import {
  ENVIRONMENT_NAMES,
  ENVIRONMENTS,
  EnvironmentConfigError,
  isGpuInstance,
  resolveEnvironment,
  UnknownEnvironmentError,
  validateEnvironment,
} from '../../lib/config/environments.js';
import { loadModelArtifacts, ModelArtifactsError, REPO_ROOT } from '../../lib/config/modelArtifacts.js';
import { visibilityTimeoutFor } from '../../lib/ingest/IngestQueue.js';
import { withInstanceKind } from '../../lib/inference/ModelArchive.js';
import { tritonImage, UnsupportedRegionError } from '../../lib/inference/tritonImage.js';
import { wildcardFindings } from '../../lib/nag/acknowledge.js';
import { cdkTableSchema } from '../../lib/storage/ProductsTable.js';
import { FIXTURE_MODELS_DIR } from './synthesize.js';

describe('resolveEnvironment', () => {
  it('knows dev, staging and prod', () => {
    expect([...ENVIRONMENT_NAMES]).toEqual(['dev', 'staging', 'prod']);
    for (const name of ENVIRONMENT_NAMES) expect(resolveEnvironment(name).name).toBe(name);
  });

  it('rejects an unknown or missing environment with the list of known ones', () => {
    expect(() => resolveEnvironment('qa')).toThrow(UnknownEnvironmentError);
    expect(() => resolveEnvironment('qa')).toThrow('unknown environment "qa"; known environments: dev, staging, prod');
    expect(() => resolveEnvironment(undefined)).toThrow('pass -c env=<name> with one of: dev, staging, prod');
  });

  it('applies account, region, inference mode, API auth and alarm e-mail overrides', () => {
    const config = resolveEnvironment('dev', {
      account: '123456789012',
      region: 'eu-west-1',
      inferenceMode: 'async',
      apiAuthorization: 'none',
      alarmEmail: 'ops@example.com',
    });
    expect(config).toMatchObject({ account: '123456789012', region: 'eu-west-1', api: { authorization: 'none' }, alarms: { email: 'ops@example.com' } });
    expect(config.inference.mode).toBe('async');
    expect(ENVIRONMENTS.dev.inference.mode).toBe('realtime');
  });

  it('rejects unknown override values by naming the allowed ones', () => {
    expect(() => resolveEnvironment('dev', { inferenceMode: 'serverless' })).toThrow('unknown inferenceMode "serverless"; expected one of: realtime, async');
    expect(() => resolveEnvironment('dev', { apiAuthorization: 'cognito' })).toThrow(EnvironmentConfigError);
  });

  it('scales async endpoints to zero and keeps real-time ones at one instance or more', () => {
    const asyncConfig = resolveEnvironment('staging', { inferenceMode: 'async' });
    expect(asyncConfig.inference.image.minInstances).toBe(0);
    expect(asyncConfig.inference.text.minInstances).toBe(0);
    expect(asyncConfig.inference.image.initialInstanceCount).toBeGreaterThanOrEqual(1);
    for (const name of ENVIRONMENT_NAMES) {
      const config = resolveEnvironment(name);
      expect(config.inference.mode).toBe('realtime');
      expect(config.inference.image.minInstances).toBeGreaterThanOrEqual(1);
    }
  });

  it('uses GPU instances, a smaller one for dev than for prod', () => {
    expect(ENVIRONMENTS.dev.inference.image.instanceType).toBe('ml.g4dn.xlarge');
    expect(ENVIRONMENTS.prod.inference.image.instanceType).toBe('ml.g5.xlarge');
  });

  it('runs the detector on a CPU instance, real-time in every mode (at least one instance, also in async)', () => {
    for (const name of ENVIRONMENT_NAMES) {
      expect(isGpuInstance(ENVIRONMENTS[name].inference.detector.instanceType)).toBe(false);
      expect(isGpuInstance(ENVIRONMENTS[name].inference.image.instanceType)).toBe(true);
      const asyncConfig = resolveEnvironment(name, { inferenceMode: 'async' });
      expect(asyncConfig.inference.detector.minInstances).toBeGreaterThanOrEqual(1);
      expect(asyncConfig.inference.image.minInstances).toBe(0);
    }
  });

  it('refuses configurations that cannot work', () => {
    const base = ENVIRONMENTS.prod;
    expect(() => validateEnvironment({ ...base, functions: { ...base.functions, imageIngest: { ...base.functions.imageIngest, memoryMb: 1024 } } })).toThrow(
      'imageIngest: memoryMb must be ≥ 1536 for sharp',
    );
    expect(() => validateEnvironment({ ...base, inference: { ...base.inference, image: { ...base.inference.image, minInstances: 0 } } })).toThrow(
      'real-time endpoints need minInstances ≥ 1',
    );
    expect(() => validateEnvironment({ ...base, inference: { ...base.inference, text: { ...base.inference.text, minInstances: 9, maxInstances: 2 } } })).toThrow(
      'minInstances > maxInstances',
    );
    expect(() => validateEnvironment({ ...base, inference: { ...base.inference, mode: 'async', detector: { ...base.inference.detector, minInstances: 0 } } })).toThrow(
      'detector: real-time endpoints need minInstances ≥ 1',
    );
    expect(() => validateEnvironment({ ...base, inference: { ...base.inference, detector: { ...base.inference.detector, instanceType: 'ml.c6i.large' } } })).toThrow(
      'detector: ml.c6i.large has no local instance storage',
    );
  });
});

describe('tritonImage', () => {
  it('resolves the registry account directly for a known region', () => {
    const stack = new Stack(new App(), 'S', { env: { region: 'eu-west-1' } });
    const image = tritonImage(stack, '24.09-py3');
    expect(stack.resolve(image.uri)).toEqual({ 'Fn::Join': ['', ['802834080501.dkr.ecr.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/sagemaker-tritonserver:24.09-py3']] });
  });

  it('uses a region mapping when the stack is region-agnostic', () => {
    const stack = new Stack(new App(), 'S');
    const image = tritonImage(stack, '24.09-py3');
    expect(JSON.stringify(stack.resolve(image.uri))).toContain('Fn::FindInMap');
    tritonImage(stack, '24.09-py3');
    expect(stack.node.children.filter((c) => c.node.id === 'TritonImageAccounts')).toHaveLength(1);
  });

  it('fails at synth for a region without the container', () => {
    const stack = new Stack(new App(), 'S', { env: { region: 'xx-nowhere-1' } });
    expect(() => tritonImage(stack, '24.09-py3')).toThrow(UnsupportedRegionError);
  });
});

describe('small pieces', () => {
  it('sizes queue visibility to six function timeouts plus the batching window', () => {
    expect(visibilityTimeoutFor(Duration.seconds(90), Duration.seconds(2)).toSeconds()).toBe(542);
  });

  it('mirrors the pipeline table definition into CDK key shapes', () => {
    const schema = cdkTableSchema(tableDefinition('t'));
    expect(schema.partitionKey).toEqual({ name: 'pk', type: AttributeType.STRING });
    expect(schema.sortKey).toEqual({ name: 'sk', type: AttributeType.STRING });
    expect(schema.globalSecondaryIndexes).toEqual([
      expect.objectContaining({
        indexName: 'byAttribute',
        partitionKey: { name: 'gsi1pk', type: AttributeType.STRING },
        sortKey: { name: 'gsi1sk', type: AttributeType.STRING },
        projectionType: ProjectionType.ALL,
      }),
    ]);
    expect(() => cdkTableSchema({ TableName: 't', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [] })).toThrow(
      'attribute pk has no AttributeDefinition',
    );
  });

  it('names wildcard findings the way cdk-nag does', () => {
    expect(
      wildcardFindings({
        Statement: [
          { Effect: 'Allow', Action: ['s3:GetObject*', 's3:PutObject'], Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/derived/*']] } },
          { Effect: 'Deny', Action: 's3:*', Resource: '*' },
        ],
      }),
    ).toEqual(['Action::s3:GetObject*', 'Resource::<Bucket.Arn>/derived/*']);
  });

  it('lists the runtime model files (no Triton repository) of the fixtures', () => {
    const artifacts = loadModelArtifacts(FIXTURE_MODELS_DIR);
    expect(artifacts.runtimeFiles).toEqual(expect.arrayContaining(['ensemble.json', 'image/manifest.json', 'text/manifest.json']));
    expect(artifacts.runtimeFiles.filter((f) => f.includes('triton') || f.endsWith('.onnx'))).toEqual([]);
    expect(artifacts.models.image.manifest.triton.modelName).toBe('weft-image');
    // The fixtures share the artifacts' taxonomy mapping; the bundles carry it as models/taxonomy.json.
    expect(artifacts.taxonomyFile).toMatch(/models\/artifacts\/taxonomy\.json$/);
  });

  it('deploys the detector the fixtures\' image manifest declares, and ships its manifest to the functions', () => {
    const artifacts = loadModelArtifacts(FIXTURE_MODELS_DIR);
    if (!artifacts.models.image.manifest.preprocessing.image?.detector) return expect(artifacts.detector).toBeUndefined();
    expect(artifacts.detector?.manifest.name).toBe(artifacts.models.image.manifest.preprocessing.image.detector);
    expect(artifacts.detector?.tritonRepository).toMatch(/detector\/triton$/);
    expect(artifacts.runtimeFiles).toContain('detector/manifest.json');
  });

  it('sets the Triton instance kind for the instance a model is deployed on', () => {
    const config = 'name: "m"\ninstance_group [\n  {\n    kind: KIND_GPU\n    count: 1\n  }\n]\n';
    expect(withInstanceKind(config, 'KIND_CPU')).toBe(config.replace('KIND_GPU', 'KIND_CPU'));
    expect(withInstanceKind(config, 'KIND_GPU')).toBe(config);
    expect(withInstanceKind('name: "m"\n', 'KIND_CPU')).toBe('name: "m"\n');
  });

  it('explains a missing models folder', () => {
    expect(() => loadModelArtifacts('does/not/exist')).toThrow(ModelArtifactsError);
  });
});

describe('bin/app.ts', () => {
  /** Runs the CDK app the way the CLI does: context arrives as CDK_CONTEXT_JSON. */
  const runApp = (context: Record<string, string>) =>
    spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/tsx/dist/cli.mjs'), join(REPO_ROOT, 'bin/app.ts')], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context) },
    });

  it('fails on an unknown environment with one line naming the known ones', () => {
    const result = runApp({ env: 'qa' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('weft cdk: unknown environment "qa"; known environments: dev, staging, prod');
  }, 30_000);

  it('fails on a region without the Triton container before bundling anything', () => {
    const result = runApp({ env: 'dev', region: 'xx-nowhere-1', modelsDir: FIXTURE_MODELS_DIR });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('weft cdk: the SageMaker Triton container is not published in xx-nowhere-1');
  }, 60_000);
});
