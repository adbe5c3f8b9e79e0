/**
 * Everything that differs between dev, staging and prod lives in this one typed table, so a
 * reviewer can compare environments side by side and the constructs stay free of `if (prod)`.
 */
import { RemovalPolicy } from 'aws-cdk-lib';

export const ENVIRONMENT_NAMES = ['dev', 'staging', 'prod'] as const;
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number];

/**
 * `realtime`: InvokeEndpoint against always-on instances (autoscaled on invocations per instance).
 * `async`: SageMaker asynchronous inference — requests queue inside SageMaker, results land in S3
 * and are announced on SNS, and the endpoint scales to zero when idle (for low-volume environments).
 */
export type InferenceMode = 'realtime' | 'async';

export interface EndpointSizing {
  /** SageMaker instance for the Triton container (GPU for the image and text models). */
  readonly instanceType: string;
  readonly initialInstanceCount: number;
  /** Autoscaling bounds; `minInstances: 0` is only valid in async mode (real-time endpoints need ≥ 1). */
  readonly minInstances: number;
  readonly maxInstances: number;
  /** Real-time target for SageMakerVariantInvocationsPerInstance (per minute). */
  readonly invocationsPerInstanceTarget: number;
  /** Async target for ApproximateBacklogSizePerInstance. */
  readonly backlogPerInstanceTarget: number;
  /** Async: requests one instance works on at once. */
  readonly maxConcurrentInvocationsPerInstance: number;
}

export interface FunctionSizing {
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** Caps the function (and therefore endpoint pressure); undefined leaves it unreserved. */
  readonly reservedConcurrency?: number;
  /** SQS batch size; several products per batch become one batched endpoint call. */
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
}

/**
 * The catalog re-tag job (lib/retag/RetagJob.ts): a Step Functions Distributed Map over the uploads
 * bucket whose child workflows check batches of keys against the table and queue the sources to
 * re-tag on two re-tag queues, which the same ingest functions consume with a capped concurrency.
 */
export interface RetagSizing {
  /** Keys per child workflow (ItemBatcher MaxItemsPerBatch). */
  readonly batchSize: number;
  /** Child workflows at once (Distributed Map MaxConcurrency): how fast keys are checked and queued. */
  readonly maxConcurrency: number;
  /** Share of failed items (keys of failed child workflows) after which the map run fails (redrivable). */
  readonly toleratedFailurePercentage: number;
  /**
   * Concurrent invocations each re-tag queue's event source may use of its ingest function
   * (SQS MaximumConcurrency, 2..1000): what a re-tag can take from fresh uploads, at most half of
   * the function's reserved concurrency.
   */
  readonly ingestConcurrency: { readonly image: number; readonly text: number };
  /**
   * Receives before a re-tag message is dead-lettered. Higher than the upload queues': the re-tag
   * event sources share their function's reserved concurrency with fresh uploads, and a message
   * whose invocation was throttled counts a receive.
   */
  readonly maxReceiveCount: number;
  /** Expiry of the map runs' results (ResultWriter) in the results bucket. */
  readonly resultRetentionDays: number;
  /**
   * Optional S3 Inventory of the uploads bucket (CSV, with at least Bucket and Key): an execution
   * given `inventoryManifestKey` reads that manifest instead of listing the bucket.
   */
  readonly inventory?: { readonly bucketName: string; readonly prefix: string };
}

export interface EnvironmentConfig {
  readonly name: EnvironmentName;
  /** Account/region are taken from context (`-c account=…`) or the CLI environment when absent. */
  readonly account?: string;
  readonly region: string;
  /** `destroy` empties and deletes buckets and the table on `cdk destroy`; `retain` keeps data. */
  readonly removalPolicy: RemovalPolicy;
  readonly logRetentionDays: number;
  readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  readonly functions: {
    readonly imageIngest: FunctionSizing;
    readonly textIngest: FunctionSizing;
    /** Async mode only: completes async inference requests from the SageMaker notification topics. */
    readonly inferenceResult: FunctionSizing;
    readonly api: Omit<FunctionSizing, 'batchSize' | 'maxBatchingWindowSeconds'>;
  };
  readonly queues: {
    /** Receives before a message moves to its DLQ. */
    readonly maxReceiveCount: number;
    readonly dlqRetentionDays: number;
  };
  readonly uploads: {
    /** Lifecycle expiry of the derived views under `derived/`. */
    readonly derivedRetentionDays: number;
    readonly maxInputPixels: number;
    readonly maxObjectBytes: number;
  };
  readonly inference: {
    readonly mode: InferenceMode;
    /** NVIDIA Triton SageMaker container tag (`sagemaker-tritonserver:<tag>`). */
    readonly tritonImageTag: string;
    /** GPU cold start: image pull + model load + CUDA init routinely exceeds the 5 minute default. */
    readonly containerStartupHealthCheckTimeoutSeconds: number;
    readonly modelDataDownloadTimeoutSeconds: number;
    /** Async mode: how long request payloads and results stay in the inference I/O bucket. */
    readonly asyncResultRetentionDays: number;
    readonly image: EndpointSizing;
    readonly text: EndpointSizing;
    /**
     * The garment detector, deployed when the image manifest declares one. Always a real-time
     * endpoint, also in async mode (image-ingest needs its box before the image model's request).
     * A CPU instance: the detector is a small network run on one 224×224 view per image.
     */
    readonly detector: EndpointSizing;
  };
  readonly api: {
    /** `iam`: callers sign with SigV4 (default); `none` only behind another gate. */
    readonly authorization: 'iam' | 'none';
    readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  };
  readonly retag: RetagSizing;
  readonly alarms: {
    readonly dlqDepth: number;
    readonly functionErrors: number;
    readonly functionThrottles: number;
    readonly endpoint5xx: number;
    /** p90 ModelLatency over 5 minutes. */
    readonly modelLatencyP90Ms: number;
    /** Optional e-mail subscribed to the alarm topic. */
    readonly email?: string;
  };
}

const ingestDefaults = {
  imageIngest: { memoryMb: 2048, timeoutSeconds: 90, batchSize: 10, maxBatchingWindowSeconds: 2 },
  textIngest: { memoryMb: 1024, timeoutSeconds: 60, batchSize: 25, maxBatchingWindowSeconds: 2 },
  // Reads a small JSON result and writes ≤ maxBatchSize sources per notification: no sharp, no model.
  inferenceResult: { memoryMb: 512, timeoutSeconds: 60, batchSize: 10, maxBatchingWindowSeconds: 1 },
  api: { memoryMb: 512, timeoutSeconds: 10 },
} as const;

const devEndpoint: EndpointSizing = {
  instanceType: 'ml.g4dn.xlarge',
  initialInstanceCount: 1,
  minInstances: 1,
  maxInstances: 2,
  invocationsPerInstanceTarget: 600,
  backlogPerInstanceTarget: 20,
  maxConcurrentInvocationsPerInstance: 4,
};

/**
 * The detector on CPU: ml.c5d (compute optimized, with local NVMe like the GPU types, so the
 * endpoint config needs no KMS key for an EBS volume). A few ms per image on two vCPUs.
 */
const devDetector: EndpointSizing = {
  instanceType: 'ml.c5d.large',
  initialInstanceCount: 1,
  minInstances: 1,
  maxInstances: 2,
  invocationsPerInstanceTarget: 1200,
  backlogPerInstanceTarget: 20,
  maxConcurrentInvocationsPerInstance: 4,
};

export const ENVIRONMENTS: Readonly<Record<EnvironmentName, EnvironmentConfig>> = {
  dev: {
    name: 'dev',
    region: 'us-east-1',
    removalPolicy: RemovalPolicy.DESTROY,
    logRetentionDays: 14,
    logLevel: 'DEBUG',
    functions: { ...ingestDefaults },
    queues: { maxReceiveCount: 3, dlqRetentionDays: 14 },
    uploads: { derivedRetentionDays: 7, maxInputPixels: 80_000_000, maxObjectBytes: 52_428_800 },
    inference: {
      mode: 'realtime',
      tritonImageTag: '24.09-py3',
      containerStartupHealthCheckTimeoutSeconds: 900,
      modelDataDownloadTimeoutSeconds: 900,
      asyncResultRetentionDays: 3,
      image: devEndpoint,
      text: devEndpoint,
      detector: devDetector,
    },
    api: { authorization: 'iam', throttle: { rateLimit: 20, burstLimit: 40 } },
    retag: { batchSize: 200, maxConcurrency: 4, toleratedFailurePercentage: 10, ingestConcurrency: { image: 2, text: 2 }, maxReceiveCount: 10, resultRetentionDays: 14 },
    alarms: { dlqDepth: 1, functionErrors: 5, functionThrottles: 1, endpoint5xx: 5, modelLatencyP90Ms: 500 },
  },
  staging: {
    name: 'staging',
    region: 'us-east-1',
    removalPolicy: RemovalPolicy.DESTROY,
    logRetentionDays: 30,
    logLevel: 'INFO',
    functions: {
      imageIngest: { ...ingestDefaults.imageIngest, reservedConcurrency: 20 },
      textIngest: { ...ingestDefaults.textIngest, reservedConcurrency: 20 },
      inferenceResult: { ...ingestDefaults.inferenceResult, reservedConcurrency: 10 },
      api: { ...ingestDefaults.api, reservedConcurrency: 20 },
    },
    queues: { maxReceiveCount: 5, dlqRetentionDays: 14 },
    uploads: { derivedRetentionDays: 14, maxInputPixels: 80_000_000, maxObjectBytes: 52_428_800 },
    inference: {
      // Async inference (scale to zero) suits staging's bursts and idle stretches:
      // `-c inferenceMode=async` switches it (docs/deployment.md, "Real-time or async").
      mode: 'realtime',
      tritonImageTag: '24.09-py3',
      containerStartupHealthCheckTimeoutSeconds: 900,
      modelDataDownloadTimeoutSeconds: 900,
      asyncResultRetentionDays: 7,
      image: { ...devEndpoint, instanceType: 'ml.g5.xlarge', minInstances: 1, maxInstances: 3, initialInstanceCount: 1 },
      text: { ...devEndpoint, instanceType: 'ml.g4dn.xlarge', minInstances: 1, maxInstances: 3, initialInstanceCount: 1 },
      detector: { ...devDetector, maxInstances: 3 },
    },
    api: { authorization: 'iam', throttle: { rateLimit: 50, burstLimit: 100 } },
    retag: { batchSize: 500, maxConcurrency: 8, toleratedFailurePercentage: 5, ingestConcurrency: { image: 5, text: 5 }, maxReceiveCount: 10, resultRetentionDays: 30 },
    alarms: { dlqDepth: 1, functionErrors: 5, functionThrottles: 5, endpoint5xx: 5, modelLatencyP90Ms: 400 },
  },
  prod: {
    name: 'prod',
    region: 'us-east-1',
    removalPolicy: RemovalPolicy.RETAIN,
    logRetentionDays: 90,
    logLevel: 'INFO',
    functions: {
      imageIngest: { ...ingestDefaults.imageIngest, memoryMb: 3008, reservedConcurrency: 100 },
      textIngest: { ...ingestDefaults.textIngest, reservedConcurrency: 50 },
      inferenceResult: { ...ingestDefaults.inferenceResult, reservedConcurrency: 20 },
      api: { ...ingestDefaults.api, memoryMb: 1024, reservedConcurrency: 200 },
    },
    queues: { maxReceiveCount: 5, dlqRetentionDays: 14 },
    uploads: { derivedRetentionDays: 30, maxInputPixels: 80_000_000, maxObjectBytes: 52_428_800 },
    inference: {
      mode: 'realtime',
      tritonImageTag: '24.09-py3',
      containerStartupHealthCheckTimeoutSeconds: 1200,
      modelDataDownloadTimeoutSeconds: 1200,
      asyncResultRetentionDays: 7,
      image: {
        instanceType: 'ml.g5.xlarge',
        initialInstanceCount: 2,
        minInstances: 2,
        maxInstances: 8,
        invocationsPerInstanceTarget: 1000,
        backlogPerInstanceTarget: 50,
        maxConcurrentInvocationsPerInstance: 8,
      },
      text: {
        instanceType: 'ml.g5.xlarge',
        initialInstanceCount: 2,
        minInstances: 2,
        maxInstances: 6,
        invocationsPerInstanceTarget: 1500,
        backlogPerInstanceTarget: 50,
        maxConcurrentInvocationsPerInstance: 8,
      },
      detector: {
        instanceType: 'ml.c5d.xlarge',
        initialInstanceCount: 2,
        minInstances: 2,
        maxInstances: 6,
        invocationsPerInstanceTarget: 2000,
        backlogPerInstanceTarget: 50,
        maxConcurrentInvocationsPerInstance: 8,
      },
    },
    api: { authorization: 'iam', throttle: { rateLimit: 500, burstLimit: 1000 } },
    // A re-tag takes at most a fifth of image-ingest and of text-ingest in prod.
    retag: { batchSize: 500, maxConcurrency: 20, toleratedFailurePercentage: 1, ingestConcurrency: { image: 20, text: 10 }, maxReceiveCount: 10, resultRetentionDays: 90 },
    alarms: { dlqDepth: 1, functionErrors: 10, functionThrottles: 10, endpoint5xx: 10, modelLatencyP90Ms: 250 },
  },
};

export class EnvironmentConfigError extends Error {
  override readonly name: string = 'EnvironmentConfigError';
}

export class UnknownEnvironmentError extends EnvironmentConfigError {
  override readonly name = 'UnknownEnvironmentError';
}

export const isEnvironmentName = (name: string): name is EnvironmentName =>
  (ENVIRONMENT_NAMES as readonly string[]).includes(name);

/** Values that may be overridden per deployment without editing the table (`-c key=value`). */
export interface EnvironmentOverrides {
  readonly account?: string;
  readonly region?: string;
  readonly inferenceMode?: string;
  readonly apiAuthorization?: string;
  readonly alarmEmail?: string;
}

const oneOf = <T extends string>(value: string, allowed: readonly T[], what: string): T => {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new EnvironmentConfigError(`unknown ${what} "${value}"; expected one of: ${allowed.join(', ')}`);
};

/** Looks up `name` and applies overrides, failing with the list of known environments. */
export const resolveEnvironment = (name: string | undefined, overrides: EnvironmentOverrides = {}): EnvironmentConfig => {
  if (name === undefined || name === '') {
    throw new UnknownEnvironmentError(`no environment given; pass -c env=<name> with one of: ${ENVIRONMENT_NAMES.join(', ')}`);
  }
  if (!isEnvironmentName(name)) {
    throw new UnknownEnvironmentError(`unknown environment "${name}"; known environments: ${ENVIRONMENT_NAMES.join(', ')}`);
  }
  const base = ENVIRONMENTS[name];
  const mode = overrides.inferenceMode ? oneOf(overrides.inferenceMode, ['realtime', 'async'] as const, 'inferenceMode') : base.inference.mode;
  const authorization = overrides.apiAuthorization
    ? oneOf(overrides.apiAuthorization, ['iam', 'none'] as const, 'apiAuthorization')
    : base.api.authorization;
  const config: EnvironmentConfig = {
    ...base,
    account: overrides.account ?? base.account,
    region: overrides.region ?? base.region,
    inference: {
      ...base.inference,
      mode,
      image: floorForMode(base.inference.image, mode),
      text: floorForMode(base.inference.text, mode),
      detector: floorForMode(base.inference.detector, 'realtime'),
    },
    api: { ...base.api, authorization },
    alarms: { ...base.alarms, email: overrides.alarmEmail ?? base.alarms.email },
  };
  validateEnvironment(config);
  return config;
};

/** Real-time endpoints need an instance; async mode exists to scale to zero when idle. */
const floorForMode = (sizing: EndpointSizing, mode: InferenceMode): EndpointSizing =>
  mode === 'realtime'
    ? { ...sizing, minInstances: Math.max(1, sizing.minInstances), initialInstanceCount: Math.max(1, sizing.initialInstanceCount) }
    : { ...sizing, minInstances: 0 };

/**
 * Instance families with local NVMe instance storage, which SageMaker encrypts itself (and for
 * which CreateEndpointConfig rejects a KmsKeyId). The stack configures no KMS key for an EBS ML
 * volume, so every endpoint runs on one of these.
 */
export const INSTANCE_STORE_FAMILIES = ['g4dn', 'g5', 'g6', 'g6e', 'p3dn', 'p4d', 'p4de', 'p5', 'c5d', 'm5d', 'r5d'] as const;

/** GPU instance types (ml.g*, ml.p*); anything else runs Triton on CPU. */
export const isGpuInstance = (instanceType: string): boolean => /^ml\.[gp]\d/.test(instanceType);

export const validateEnvironment = (config: EnvironmentConfig): void => {
  const problems: string[] = [];
  const { image, text, detector } = config.inference;
  for (const [model, sizing] of Object.entries({ image, text, detector })) {
    // The detector is real-time in every mode.
    const mode = model === 'detector' ? 'realtime' : config.inference.mode;
    if (!sizing.instanceType.startsWith('ml.')) problems.push(`${model}: instanceType must be a SageMaker type (ml.*)`);
    else if (!(INSTANCE_STORE_FAMILIES as readonly string[]).includes(sizing.instanceType.split('.')[1]!)) {
      problems.push(`${model}: ${sizing.instanceType} has no local instance storage; use one of ${INSTANCE_STORE_FAMILIES.join(', ')} (the endpoint config sets no KMS key for an EBS volume)`);
    }
    if (sizing.minInstances > sizing.maxInstances) problems.push(`${model}: minInstances > maxInstances`);
    if (mode === 'realtime' && sizing.minInstances < 1) problems.push(`${model}: real-time endpoints need minInstances ≥ 1`);
    if (sizing.initialInstanceCount < 1) problems.push(`${model}: initialInstanceCount must be ≥ 1 (SageMaker creates endpoints with at least one instance)`);
  }
  // sharp decodes full-size images in memory; below 1536 MB large JPEGs hit the Lambda memory limit.
  if (config.functions.imageIngest.memoryMb < 1536) problems.push('imageIngest: memoryMb must be ≥ 1536 for sharp');
  if (config.inference.containerStartupHealthCheckTimeoutSeconds < 60 || config.inference.containerStartupHealthCheckTimeoutSeconds > 3600) {
    problems.push('containerStartupHealthCheckTimeoutSeconds must be within 60..3600');
  }
  problems.push(...retagProblems(config));
  if (problems.length > 0) throw new EnvironmentConfigError(`invalid configuration for environment "${config.name}": ${problems.join('; ')}`);
};

const within = (value: number, min: number, max: number): boolean => Number.isInteger(value) && value >= min && value <= max;

/** Limits of Step Functions (Distributed Map) and of the SQS event source's MaximumConcurrency. */
const retagProblems = (config: EnvironmentConfig): string[] => {
  const problems: string[] = [];
  const { retag } = config;
  if (!within(retag.batchSize, 1, 10_000)) problems.push('retag.batchSize must be an integer within 1..10000 (ItemBatcher MaxItemsPerBatch)');
  if (!within(retag.maxConcurrency, 1, 10_000)) problems.push('retag.maxConcurrency must be an integer within 1..10000 (Distributed Map MaxConcurrency)');
  if (!(retag.toleratedFailurePercentage >= 0 && retag.toleratedFailurePercentage <= 100)) problems.push('retag.toleratedFailurePercentage must be within 0..100');
  if (!within(retag.maxReceiveCount, 1, 1000)) problems.push('retag.maxReceiveCount must be an integer within 1..1000');
  if (!within(retag.resultRetentionDays, 1, 3650)) problems.push('retag.resultRetentionDays must be an integer within 1..3650');
  for (const [kind, sizing] of [['image', config.functions.imageIngest], ['text', config.functions.textIngest]] as const) {
    const cap = retag.ingestConcurrency[kind];
    if (!within(cap, 2, 1000)) problems.push(`retag.ingestConcurrency.${kind} must be an integer within 2..1000 (SQS event source MaximumConcurrency)`);
    else if (sizing.reservedConcurrency !== undefined && cap * 2 > sizing.reservedConcurrency) {
      problems.push(`retag.ingestConcurrency.${kind} (${cap}) must be at most half of ${kind}Ingest's reserved concurrency (${sizing.reservedConcurrency}), so fresh uploads keep the rest`);
    }
  }
  if (retag.inventory && (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(retag.inventory.bucketName) || retag.inventory.prefix.startsWith('/'))) {
    problems.push('retag.inventory needs an S3 bucket name and a key prefix without a leading /');
  }
  return problems;
};
