/**
 * The setup the ingest handler tests share: a dynalite table, mocked S3 and SageMaker clients,
 * the environment the handlers read at cold start, and a ProductStore on the table to inspect
 * what they wrote. Registers its own hooks; import the handlers in a later beforeAll.
 */
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { loadModelSet } from '../../../functions/shared/ingest/config.js';
import { ProductStore } from '../../../functions/shared/products/productStore.js';
import { startTestTable, type TestTable } from './dynalite.js';
import { useTestEnv } from './env.js';
import { fakeInvoke } from './fakeEndpoint.js';
import { writeModelsDir } from './models.js';
import { mockS3 } from './s3Mock.js';

const mockSageMaker = () => mockClient(SageMakerRuntimeClient);

export interface IngestHarness {
  s3: ReturnType<typeof mockS3>;
  sagemaker: ReturnType<typeof mockSageMaker>;
  /** Realtime model calls answered by {@link IngestHarness.answerRealtime}, emptied before each test. */
  calls: { endpoint: string; rows: number }[];
  /** (Re)installs the fake realtime endpoint, recording into `calls`. */
  answerRealtime(): void;
  /** A store on the test table, available from beforeAll on. */
  readonly store: ProductStore;
}

export const useIngestHarness = (opts: {
  tableName: string;
  /** Defaults to the test models folder of support/models.ts. */
  modelsDir?: string;
  env?: Record<string, string>;
  /** Answer InvokeEndpoint with the fake realtime endpoint before each test (else the test file sets SageMaker up). */
  realtime?: boolean;
}): IngestHarness => {
  const s3 = mockS3();
  const sagemaker = mockSageMaker();
  const calls: IngestHarness['calls'] = [];
  const answerRealtime = (): void => {
    sagemaker.on(InvokeEndpointCommand).callsFake(fakeInvoke(calls));
  };
  let table: TestTable | undefined;
  let store: ProductStore | undefined;
  let restoreEnv = (): void => {};

  beforeAll(async () => {
    table = await startTestTable(opts.tableName);
    const modelsDir = opts.modelsDir ?? writeModelsDir();
    restoreEnv = useTestEnv({ TABLE_NAME: table.tableName, WEFT_MODELS_DIR: modelsDir, AWS_ENDPOINT_URL_DYNAMODB: table.endpoint, ...opts.env });
    const models = loadModelSet(modelsDir);
    store = new ProductStore({ client: table.client, tableName: table.tableName, catalog: models.catalog, ensemble: models.ensemble });
  });

  afterAll(async () => {
    restoreEnv();
    s3.mock.restore();
    sagemaker.restore();
    await table?.stop();
  });

  if (opts.realtime ?? true) {
    beforeEach(() => {
      calls.length = 0;
      sagemaker.reset();
      answerRealtime();
    });
  }
  return {
    s3,
    sagemaker,
    calls,
    answerRealtime,
    get store() {
      return store!;
    },
  };
};
