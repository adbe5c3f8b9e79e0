/**
 * SDK clients, created once per cold start. Locally only the endpoint differs: the SDK reads
 * AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME itself;
 * s3rver additionally needs path-style addressing, which WEFT_S3_FORCE_PATH_STYLE turns on.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';

let s3: S3Client | undefined;
let ddb: DynamoDBDocumentClient | undefined;
let sagemaker: SageMakerRuntimeClient | undefined;

export const s3Client = (): S3Client =>
  (s3 ??= new S3Client({ forcePathStyle: process.env.WEFT_S3_FORCE_PATH_STYLE === 'true' }));

export const documentClient = (): DynamoDBDocumentClient =>
  (ddb ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  }));

export const sageMakerClient = (): SageMakerRuntimeClient => (sagemaker ??= new SageMakerRuntimeClient({}));

/** Tests and the local runtime swap endpoints between runs; this drops the cached clients. */
export const resetClients = (): void => {
  s3 = undefined;
  ddb = undefined;
  sagemaker = undefined;
};
