/**
 * The re-tag job as synthesized for every environment (lib/retag/RetagJob.ts): the state machine
 * definition (Distributed Map, ItemReader, ItemBatcher, MaxConcurrency, ToleratedFailurePercentage,
 * ResultWriter, the child workflow), least-privilege IAM of the state machine and of retag-batch,
 * the re-tag queues into the ingest functions with capped concurrency, the results bucket, cdk-nag,
 * and a variant with an S3 Inventory configured.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVIRONMENT_NAMES, EnvironmentConfigError, resolveEnvironment, validateEnvironment, type EnvironmentConfig } from '../../lib/config/environments.js';
import { loadModelArtifacts, REPO_ROOT } from '../../lib/config/modelArtifacts.js';
import { RETAG_MAP_LABEL, RETAG_RESULTS_PREFIX } from '../../lib/retag/RetagJob.js';
import { WeftStack } from '../../lib/WeftStack.js';
import { FIXTURE_MODELS_DIR, resourcesOfType, synthesize, type CfnTemplate, type Synthesized } from './synthesize.js';

const synthesized: Partial<Record<string, Synthesized>> = {};
let inventoryVariant: { json: CfnTemplate; stack: WeftStack; nag: string[]; outdir: string };

/** A dev stack whose re-tag job reads an S3 Inventory of the uploads bucket (not in the committed table). */
const synthesizeWithInventory = () => {
  const base = resolveEnvironment('dev');
  const config: EnvironmentConfig = { ...base, retag: { ...base.retag, inventory: { bucketName: 'weft-inventory-dev', prefix: 'uploads/weft-uploads/' } } };
  validateEnvironment(config);
  const outdir = mkdtempSync(join(tmpdir(), 'weft-cdk-retag-inventory-'));
  const context = (JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
  const app = new App({ outdir, context });
  const stack = new WeftStack(app, 'Weft-dev', { config, models: loadModelArtifacts(FIXTURE_MODELS_DIR), env: { account: config.account, region: config.region } });
  const assembly = app.synth();
  const nag = new AwsSolutionsChecks(app).validateScope(app).violations.map((v) => v.ruleName);
  return { json: assembly.getStackByName(stack.stackName).template as CfnTemplate, stack, nag, outdir };
};

beforeAll(() => {
  for (const env of ENVIRONMENT_NAMES) synthesized[env] = synthesize(env);
  inventoryVariant = synthesizeWithInventory();
}, 600_000);

afterAll(() => {
  for (const s of Object.values(synthesized)) if (s) rmSync(s.outdir, { recursive: true, force: true });
  if (inventoryVariant) rmSync(inventoryVariant.outdir, { recursive: true, force: true });
});

const logicalId = (s: { stack: WeftStack }, construct: { node: { defaultChild?: unknown } }): string => s.stack.getLogicalId(construct.node.defaultChild as never);

/** The state machine's definition with CloudFormation references written as `<Ref:Id>` / `<GetAtt:Id.Attr>`. */
const definitionOf = (json: CfnTemplate): Record<string, any> => {
  const machines = resourcesOfType(json, 'AWS::StepFunctions::StateMachine');
  expect(machines).toHaveLength(1);
  const [, parts] = machines[0]![1].Properties?.DefinitionString['Fn::Join'] as [string, unknown[]];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const ref = part as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
      if (ref.Ref) return `<Ref:${ref.Ref}>`;
      if (ref['Fn::GetAtt']) return `<GetAtt:${ref['Fn::GetAtt'].join('.')}>`;
      return '<expr>';
    })
    .join('');
  return JSON.parse(text) as Record<string, any>;
};

interface Statement { actions: string[]; resources: string[] }
const statementsOfRole = (json: CfnTemplate, roleId: string): Statement[] =>
  resourcesOfType(json, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties?.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties?.PolicyDocument.Statement as { Effect: string; Action: string | string[]; Resource: unknown }[])
    .map((st) => {
      expect(st.Effect).toBe('Allow');
      return { actions: [st.Action].flat(), resources: [st.Resource].flat().map((r) => (typeof r === 'string' ? r : JSON.stringify(r))) };
    });
const roleOf = (json: CfnTemplate, resourceId: string, property: 'Role' | 'RoleArn'): string =>
  (json.Resources[resourceId]?.Properties?.[property] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

describe.each(ENVIRONMENT_NAMES)('re-tag job (%s)', (env) => {
  const s = () => synthesized[env]!;
  const retag = () => s().config.retag;
  const ids = () => ({
    stateMachine: logicalId(s(), s().stack.retag.stateMachine),
    fn: logicalId(s(), s().stack.retag.batchFunction.fn),
    results: logicalId(s(), s().stack.retag.resultsBucket),
    uploads: logicalId(s(), s().stack.storage.bucket),
    table: logicalId(s(), s().stack.table.table),
    imageQueue: logicalId(s(), s().stack.retag.queues.image.queue),
    textQueue: logicalId(s(), s().stack.retag.queues.text.queue),
  });

  it('synthesizes with no unacknowledged cdk-nag findings', () => {
    expect(s().nagViolations).toEqual([]);
  });

  it('lists the uploads bucket under the execution’s prefix into a Distributed Map with the environment’s batching and limits', () => {
    const definition = definitionOf(s().json);
    expect(definition.StartAt).toBe('ItemSource');
    expect(definition.States.ItemSource).toMatchObject({ Type: 'Choice', Choices: [{ Variable: '$.inventoryManifestKey', IsPresent: true, Next: 'NoInventory' }], Default: 'RetagListing' });
    // Without an inventory configured, asking for one fails the execution by name.
    expect(definition.States.NoInventory).toMatchObject({ Type: 'Fail', Error: 'InventoryNotConfigured' });
    const map = definition.States.RetagListing;
    expect(map).toMatchObject({
      Type: 'Map',
      Label: RETAG_MAP_LABEL,
      ItemReader: { Resource: 'arn:<Ref:AWS::Partition>:states:::s3:listObjectsV2', Parameters: { Bucket: `<Ref:${ids().uploads}>`, 'Prefix.$': '$.prefix' } },
      ItemSelector: { 'key.$': '$$.Map.Item.Value.Key' },
      ItemBatcher: { MaxItemsPerBatch: retag().batchSize, BatchInput: { 'filters.$': '$.filters', keysEncoded: false } },
      MaxConcurrency: retag().maxConcurrency,
      ToleratedFailurePercentage: retag().toleratedFailurePercentage,
      ResultWriter: { Resource: 'arn:<Ref:AWS::Partition>:states:::s3:putObject', Parameters: { Bucket: `<Ref:${ids().results}>`, Prefix: RETAG_RESULTS_PREFIX } },
      ResultPath: '$.mapRun',
      Next: 'Done',
    });
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' });
    const child = map.ItemProcessor.States[map.ItemProcessor.StartAt];
    expect(child).toMatchObject({ Type: 'Task', Resource: 'arn:<Ref:AWS::Partition>:states:::lambda:invoke', Parameters: { FunctionName: `<GetAtt:${ids().fn}.Arn>`, 'Payload.$': '$' }, OutputPath: '$.Payload', End: true });
    expect(child.Retry).toEqual(expect.arrayContaining([expect.objectContaining({ ErrorEquals: ['States.TaskFailed', 'States.Timeout'], MaxAttempts: 3 })]));
    expect(definition.States.Done).toEqual({ Type: 'Succeed' });
  });

  it('logs every event, traces, and names the state machine by environment', () => {
    const machine = resourcesOfType(s().json, 'AWS::StepFunctions::StateMachine')[0]![1];
    expect(machine.Properties).toMatchObject({
      StateMachineName: `weft-retag-${env}`,
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true },
    });
    expect(s().json.Outputs?.RetagStateMachineArn).toEqual({ Value: { Ref: ids().stateMachine } });
  });

  it('gives the state machine only what the map needs: list the uploads, invoke retag-batch, write results, run its own children', () => {
    const statements = statementsOfRole(s().json, roleOf(s().json, ids().stateMachine, 'RoleArn'));
    const byAction = (action: string) => statements.filter((st) => st.actions.includes(action)).flatMap((st) => st.resources);
    expect(byAction('s3:ListBucket')).toEqual([JSON.stringify({ 'Fn::GetAtt': [ids().uploads, 'Arn'] })]);
    expect(byAction('lambda:InvokeFunction')).toEqual([JSON.stringify({ 'Fn::GetAtt': [ids().fn, 'Arn'] }), JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [ids().fn, 'Arn'] }, ':*']] })]);
    for (const action of ['s3:PutObject', 's3:GetObject']) {
      expect(byAction(action)).toHaveLength(1);
      expect(byAction(action)[0]).toContain(ids().results);
    }
    expect(byAction('states:StartExecution')).toEqual([JSON.stringify({ Ref: ids().stateMachine })]);
    for (const action of ['states:DescribeExecution', 'states:StopExecution', 'states:RedriveExecution']) {
      expect(byAction(action).every((r) => r.includes(ids().stateMachine))).toBe(true);
    }
    const actions = new Set(statements.flatMap((st) => st.actions));
    // Nothing on the table, the queues or the uploads' objects: the Lambda does that.
    expect([...actions].filter((a) => /^(dynamodb|sqs):/.test(a) || a === 's3:DeleteObject')).toEqual([]);
    for (const st of statements) if (st.resources.includes('*')) expect(st.actions.every((a) => /^(logs|xray):/.test(a))).toBe(true);
  });

  it('gives retag-batch BatchGetItem on the table and SendMessage on the two re-tag queues, nothing else', () => {
    const statements = statementsOfRole(s().json, roleOf(s().json, ids().fn, 'Role'));
    const allowed = statements.filter((st) => !st.actions.every((a) => a.startsWith('xray:')));
    expect(allowed).toEqual([
      { actions: ['dynamodb:BatchGetItem'], resources: [JSON.stringify({ 'Fn::GetAtt': [ids().table, 'Arn'] })] },
      {
        actions: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
        resources: [JSON.stringify({ 'Fn::GetAtt': [ids().imageQueue, 'Arn'] }), JSON.stringify({ 'Fn::GetAtt': [ids().textQueue, 'Arn'] })],
      },
    ]);
    const env = s().json.Resources[ids().fn]?.Properties?.Environment.Variables as Record<string, unknown>;
    expect(env).toMatchObject({ RETAG_IMAGE_QUEUE_URL: { Ref: ids().imageQueue }, RETAG_TEXT_QUEUE_URL: { Ref: ids().textQueue }, TABLE_NAME: { Ref: ids().table }, UPLOADS_BUCKET: { Ref: ids().uploads } });
  });

  it('feeds the same ingest functions from separate re-tag queues whose event sources are capped, leaving the upload queues uncapped', () => {
    const mappings = resourcesOfType(s().json, 'AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties ?? {});
    const fnId = (kind: 'image' | 'text') => logicalId(s(), s().stack.ingest[kind].function.fn);
    for (const kind of ['image', 'text'] as const) {
      const queueId = logicalId(s(), s().stack.retag.queues[kind].queue);
      const retagMapping = mappings.find((m) => JSON.stringify(m.EventSourceArn).includes(queueId))!;
      expect(retagMapping).toMatchObject({
        FunctionName: { Ref: fnId(kind) },
        BatchSize: s().config.functions[kind === 'image' ? 'imageIngest' : 'textIngest'].batchSize,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: retag().ingestConcurrency[kind] },
      });
      const uploadQueueId = logicalId(s(), s().stack.ingest[kind].queue.queue);
      expect(mappings.find((m) => JSON.stringify(m.EventSourceArn).includes(uploadQueueId))?.ScalingConfig).toBeUndefined();
      const queue = s().json.Resources[queueId]?.Properties;
      expect(queue?.SqsManagedSseEnabled).toBe(true);
      expect(queue?.RedrivePolicy).toMatchObject({ maxReceiveCount: retag().maxReceiveCount });
      const reserved = s().config.functions[kind === 'image' ? 'imageIngest' : 'textIngest'].reservedConcurrency;
      if (reserved !== undefined) expect(retag().ingestConcurrency[kind] * 2).toBeLessThanOrEqual(reserved);
    }
  });

  it('keeps results in a private, encrypted, TLS-only, access-logged bucket that expires them', () => {
    const bucket = s().json.Resources[ids().results]?.Properties;
    expect(bucket).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LoggingConfiguration: { LogFilePrefix: 'retag-results/' },
    });
    expect(bucket?.LifecycleConfiguration.Rules).toEqual(expect.arrayContaining([expect.objectContaining({ ExpirationInDays: retag().resultRetentionDays, Status: 'Enabled' })]));
    const policies = resourcesOfType(s().json, 'AWS::S3::BucketPolicy').filter(([, p]) => JSON.stringify(p.Properties?.Bucket).includes(ids().results));
    expect(JSON.stringify(policies.map(([, p]) => p.Properties?.PolicyDocument))).toContain('"aws:SecureTransport":"false"');
  });

  it('alarms on failed executions and on re-tag dead letters', () => {
    const alarms = resourcesOfType(s().json, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties ?? {});
    expect(alarms.filter((a) => a.MetricName === 'ExecutionsFailed' && JSON.stringify(a.Dimensions).includes(ids().stateMachine))).toHaveLength(1);
    for (const kind of ['image', 'text'] as const) {
      const dlq = logicalId(s(), s().stack.retag.queues[kind].deadLetterQueue);
      expect(alarms.filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible' && JSON.stringify(a.Dimensions).includes(dlq))).toHaveLength(1);
    }
  });
});

describe('re-tag job with an S3 Inventory configured', () => {
  it('reads the inventory manifest named in the input, with keys marked URL-encoded, and may read only that report', () => {
    expect(inventoryVariant.nag).toEqual([]);
    const definition = definitionOf(inventoryVariant.json);
    expect(definition.States.ItemSource.Choices).toEqual([{ Variable: '$.inventoryManifestKey', IsPresent: true, Next: 'RetagInventory' }]);
    expect(definition.States.NoInventory).toBeUndefined();
    expect(definition.States.RetagInventory).toMatchObject({
      ItemReader: { Resource: 'arn:<Ref:AWS::Partition>:states:::s3:getObject', ReaderConfig: { InputType: 'MANIFEST' }, Parameters: { Bucket: 'weft-inventory-dev', 'Key.$': '$.inventoryManifestKey' } },
      ItemBatcher: { BatchInput: { 'filters.$': '$.filters', keysEncoded: true } },
      Next: 'Done',
    });
    const machine = logicalId(inventoryVariant, inventoryVariant.stack.retag.stateMachine);
    const statements = statementsOfRole(inventoryVariant.json, roleOf(inventoryVariant.json, machine, 'RoleArn'));
    const reads = statements.filter((st) => st.actions.includes('s3:GetObject')).flatMap((st) => st.resources).filter((r) => r.includes('weft-inventory-dev'));
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((r) => r.includes(':s3:::weft-inventory-dev/'))).toBe(true);
  });
});

describe('re-tag settings', () => {
  it('refuses a re-tag share over half of an ingest function’s reserved concurrency, and limits outside Step Functions’', () => {
    const staging = resolveEnvironment('staging');
    const invalid = (retag: Partial<EnvironmentConfig['retag']>) => () => validateEnvironment({ ...staging, retag: { ...staging.retag, ...retag } });
    expect(invalid({ ingestConcurrency: { image: 11, text: 5 } })).toThrow(/retag\.ingestConcurrency\.image \(11\) must be at most half of imageIngest's reserved concurrency \(20\)/);
    expect(invalid({ ingestConcurrency: { image: 1, text: 5 } })).toThrow(EnvironmentConfigError);
    expect(invalid({ maxConcurrency: 0 })).toThrow(/retag\.maxConcurrency/);
    expect(invalid({ toleratedFailurePercentage: 101 })).toThrow(/toleratedFailurePercentage/);
    expect(invalid({ batchSize: 20_000 })).toThrow(/retag\.batchSize/);
  });

  it('differs per environment as the table says', () => {
    const table = Object.fromEntries(ENVIRONMENT_NAMES.map((env) => [env, resolveEnvironment(env).retag]));
    expect(table.prod!.maxConcurrency).toBeGreaterThan(table.dev!.maxConcurrency);
    expect(table.prod!.toleratedFailurePercentage).toBeLessThan(table.dev!.toleratedFailurePercentage);
    // Template assertions see the same values (the per-environment tests above).
    expect(Template.fromJSON(synthesized.prod!.json as never).findResources('AWS::StepFunctions::StateMachine')).not.toEqual({});
  });
});
