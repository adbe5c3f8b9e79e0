import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import {
  AdjustmentType,
  CfnScalableTarget,
  MetricAggregationType,
  PredefinedMetric,
  ScalableTarget,
  ServiceNamespace,
} from 'aws-cdk-lib/aws-applicationautoscaling';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Effect, PolicyStatement, Role, ServicePrincipal, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { CfnEndpoint, CfnEndpointConfig, CfnModel } from 'aws-cdk-lib/aws-sagemaker';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { isGpuInstance, type EndpointSizing, type InferenceMode } from '../config/environments.js';
import type { ModelArtifact } from '../config/modelArtifacts.js';
import { acknowledge, acknowledgeWildcards, ARN } from '../nag/acknowledge.js';
import { ModelArchive } from './ModelArchive.js';
import { tritonImage } from './tritonImage.js';

export const VARIANT_NAME = 'AllTraffic';

export interface AsyncInferenceResources {
  readonly bucket: IBucket;
  readonly successTopic: ITopic;
  readonly errorTopic: ITopic;
  /** Key of the topics; SageMaker publishes with its execution role. */
  readonly topicKey: IKey;
}

export interface TritonEndpointProps {
  readonly model: ModelArtifact;
  readonly endpointName: string;
  readonly sizing: EndpointSizing;
  readonly mode: InferenceMode;
  readonly tritonImageTag: string;
  readonly containerStartupHealthCheckTimeout: Duration;
  readonly modelDataDownloadTimeout: Duration;
  /** Required in async mode. */
  readonly asyncInference?: AsyncInferenceResources;
}

/**
 * One exported model served by NVIDIA Triton on SageMaker: Model → EndpointConfig → Endpoint, plus
 * autoscaling. L1 resources because the L2 alpha constructs cannot express async inference.
 */
export class TritonEndpoint extends Construct {
  readonly endpointName: string;
  readonly endpointArn: string;
  readonly mode: InferenceMode;
  readonly role: Role;
  readonly endpoint: CfnEndpoint;
  readonly asyncInference?: AsyncInferenceResources;
  /** Fires on endpoint 5xx; real-time deployments roll back to the previous config when it does. */
  readonly errorsAlarm: Alarm;

  constructor(scope: Construct, id: string, props: TritonEndpointProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { manifest } = props.model;
    this.endpointName = props.endpointName;
    this.mode = props.mode;
    this.asyncInference = props.asyncInference;
    if (props.mode === 'async' && !props.asyncInference) throw new Error(`${props.endpointName}: async mode needs asyncInference resources`);
    this.endpointArn = stack.formatArn({ service: 'sagemaker', resource: 'endpoint', resourceName: props.endpointName.toLowerCase() });

    // Resolve the container first: an unsupported region should fail before any packing.
    const image = tritonImage(this, props.tritonImageTag);
    // A model on a CPU instance (the small detector) runs its Triton instances on the CPU.
    const archive = new ModelArchive(this, 'ModelData', { tritonRepository: props.model.tritonRepository, instanceKind: isGpuInstance(props.sizing.instanceType) ? 'KIND_GPU' : 'KIND_CPU' });

    this.role = new Role(this, 'ExecutionRole', {
      assumedBy: new ServicePrincipal('sagemaker.amazonaws.com'),
      description: `SageMaker execution role for ${props.endpointName}`,
    });
    archive.asset.grantRead(this.role);
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        resources: [image.repositoryArn],
      }),
    );
    this.role.addToPolicy(new PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: [stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '/aws/sagemaker/Endpoints/*', arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringLike: { 'cloudwatch:namespace': ['/aws/sagemaker/Endpoints', 'AWS/SageMaker'] } },
      }),
    );

    const model = new CfnModel(this, 'Model', {
      executionRoleArn: this.role.roleArn,
      // The container needs nothing from the network: SageMaker fetches the model data for it.
      enableNetworkIsolation: true,
      primaryContainer: {
        image: image.uri,
        modelDataUrl: archive.asset.s3ObjectUrl,
        mode: 'SingleModel',
        environment: {
          SAGEMAKER_TRITON_DEFAULT_MODEL_NAME: manifest.triton.modelName,
          // Recorded so `aws sagemaker describe-model` tells which export is live.
          WEFT_MODEL_VERSION: manifest.version,
        },
      },
    });
    model.node.addDependency(this.role);

    const async = props.asyncInference;
    if (async) {
      async.bucket.grantReadWrite(this.role);
      async.successTopic.grantPublish(this.role);
      async.errorTopic.grantPublish(this.role);
      async.topicKey.grantEncryptDecrypt(this.role);
    }

    const config = new CfnEndpointConfig(this, 'Config', {
      productionVariants: [
        {
          variantName: VARIANT_NAME,
          modelName: model.attrModelName,
          instanceType: props.sizing.instanceType,
          initialInstanceCount: props.sizing.initialInstanceCount,
          initialVariantWeight: 1,
          containerStartupHealthCheckTimeoutInSeconds: props.containerStartupHealthCheckTimeout.toSeconds(),
          modelDataDownloadTimeoutInSeconds: props.modelDataDownloadTimeout.toSeconds(),
        },
      ],
      asyncInferenceConfig: async
        ? {
            clientConfig: { maxConcurrentInvocationsPerInstance: props.sizing.maxConcurrentInvocationsPerInstance },
            outputConfig: {
              s3OutputPath: async.bucket.s3UrlForObject(`results/${props.endpointName}`),
              s3FailurePath: async.bucket.s3UrlForObject(`failures/${props.endpointName}`),
              notificationConfig: {
                successTopic: async.successTopic.topicArn,
                errorTopic: async.errorTopic.topicArn,
                includeInferenceResponseIn: ['SUCCESS_NOTIFICATION_TOPIC'],
              },
            },
          }
        : undefined,
    });
    config.node.addDependency(this.role);

    this.errorsAlarm = new Alarm(this, 'Errors5xx', {
      alarmDescription: `${props.endpointName}: model container 5xx responses`,
      metric: this.metric('Invocation5XXErrors', { statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    this.endpoint = new CfnEndpoint(this, 'Endpoint', {
      endpointName: props.endpointName,
      endpointConfigName: config.attrEndpointConfigName,
      // A new model version shifts traffic blue/green and rolls back if the new fleet returns 5xx.
      deploymentConfig:
        props.mode === 'realtime'
          ? {
              blueGreenUpdatePolicy: {
                trafficRoutingConfiguration: { type: 'ALL_AT_ONCE', waitIntervalInSeconds: 300 },
                terminationWaitInSeconds: 300,
                maximumExecutionTimeoutInSeconds: 3600,
              },
              autoRollbackConfiguration: { alarms: [{ alarmName: this.errorsAlarm.alarmName }] },
            }
          : undefined,
    });

    this.addAutoscaling(props);

    acknowledge(model, {
      id: 'AwsSolutions-SM1',
      reason: 'The container runs with network isolation (no network at all); a VPC would add NAT/endpoints without reducing exposure.',
    });
    acknowledge(config, {
      id: 'AwsSolutions-SM2',
      reason: 'Every endpoint runs on an instance type with local NVMe instance storage (GPU g4dn/g5, CPU c5d; validateEnvironment enforces it), which SageMaker encrypts itself and for which CreateEndpointConfig rejects a KmsKeyId.',
    });
    acknowledgeWildcards(this.role, [
      { finding: /^Resource::\*$/, reason: 'ecr:GetAuthorizationToken and cloudwatch:PutMetricData (conditioned on the SageMaker namespaces) have no resource-level permissions.' },
      { finding: new RegExp(`^Resource::${ARN}:logs:[^:]+:.+:log-group:/aws/sagemaker/Endpoints/\\*$`), reason: 'SageMaker names the endpoint log groups/streams at run time under /aws/sagemaker/Endpoints/.' },
      { finding: /^Action::s3:(GetObject|GetBucket|List|DeleteObject|Abort)\*$/, reason: 'CDK S3 grants: read the model archive (asset bucket) and, in async mode, read requests/write results in the inference I/O bucket.' },
      { finding: new RegExp(`^Resource::${ARN}:s3:::cdk-[^/]+/\\*$`), reason: 'Model data is a CDK asset; its object key is the content hash, inside the bootstrap assets bucket.' },
      { finding: /^Resource::<\w+\.Arn>\/\*$/, reason: 'Async mode: SageMaker reads request payloads and writes results anywhere in the dedicated, short-lived inference I/O bucket.' },
      { finding: /^Action::kms:(ReEncrypt|GenerateDataKey)\*$/, reason: 'Async mode: publishing to the KMS-encrypted notification topics needs data keys of that one key.' },
    ]);
  }

  metric(metricName: string, props: { statistic: string; period?: Duration; namespace?: string }): Metric {
    return new Metric({
      namespace: props.namespace ?? 'AWS/SageMaker',
      metricName,
      dimensionsMap: { EndpointName: this.endpointName, VariantName: VARIANT_NAME },
      statistic: props.statistic,
      period: props.period ?? Duration.minutes(1),
    });
  }

  /**
   * Lets a function call this endpoint: synchronously, or asynchronously by writing its request
   * (and sidecar) under `requests/<endpoint>/`. Results are read by inference-result, not the caller.
   */
  grantInvoke(grantee: IGrantable): void {
    const actions = this.mode === 'async' ? ['sagemaker:InvokeEndpointAsync'] : ['sagemaker:InvokeEndpoint'];
    grantee.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions, resources: [this.endpointArn] }));
    if (this.asyncInference) this.asyncInference.bucket.grantPut(grantee, `requests/${this.endpointName}/*`);
  }

  private addAutoscaling(props: TritonEndpointProps): void {
    const stack = Stack.of(this);
    const target = new ScalableTarget(this, 'Scaling', {
      serviceNamespace: ServiceNamespace.SAGEMAKER,
      resourceId: `endpoint/${props.endpointName}/variant/${VARIANT_NAME}`,
      scalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      minCapacity: props.sizing.minInstances,
      maxCapacity: props.sizing.maxInstances,
      // Placeholder so the L2 creates no role of its own; RoleARN is removed below.
      role: Role.fromRoleArn(this, 'ScalingRole', stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: 'unused' })),
    });
    // Without RoleARN, Application Auto Scaling uses (and creates on first use) its service-linked
    // role for SageMaker endpoints, which is what AWS recommends.
    (target.node.defaultChild as CfnScalableTarget).addPropertyDeletionOverride('RoleARN');
    target.node.addDependency(this.endpoint);

    if (props.mode === 'realtime') {
      target.scaleToTrackMetric('InvocationsPerInstance', {
        predefinedMetric: PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
        targetValue: props.sizing.invocationsPerInstanceTarget,
        scaleInCooldown: Duration.minutes(10),
        scaleOutCooldown: Duration.minutes(2),
      });
      return;
    }
    // Async: track the queue SageMaker holds per instance; scale in to zero when it drains…
    target.scaleToTrackMetric('BacklogPerInstance', {
      customMetric: new Metric({
        namespace: 'AWS/SageMaker',
        metricName: 'ApproximateBacklogSizePerInstance',
        dimensionsMap: { EndpointName: props.endpointName },
        statistic: 'Average',
        period: Duration.minutes(1),
      }),
      targetValue: props.sizing.backlogPerInstanceTarget,
      scaleInCooldown: Duration.minutes(10),
      scaleOutCooldown: Duration.minutes(2),
    });
    // …and because a per-instance metric is undefined at zero instances, wake up on any backlog.
    target.scaleOnMetric('WakeFromZero', {
      metric: new Metric({
        namespace: 'AWS/SageMaker',
        metricName: 'HasBacklogWithoutCapacity',
        dimensionsMap: { EndpointName: props.endpointName },
        statistic: 'Average',
        period: Duration.minutes(1),
      }),
      scalingSteps: [
        { upper: 0.5, change: 0 },
        { lower: 0.5, change: 1 },
      ],
      adjustmentType: AdjustmentType.CHANGE_IN_CAPACITY,
      metricAggregationType: MetricAggregationType.AVERAGE,
      cooldown: Duration.minutes(5),
      evaluationPeriods: 1,
    });
  }
}
