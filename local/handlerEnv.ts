/**
 * The handlers read their configuration from environment variables at cold start, exactly as in
 * Lambda. The local runtime runs them in-process, so it points those variables at the local
 * servers before the handler modules are first imported, and drops cached SDK clients so a
 * second stack in the same process (tests) talks to its own servers.
 */
import { resetClients } from '../functions/shared/awsClients.js';
import { LOCAL_OBJECTS_PATH } from './objectRoute.js';

export interface HandlerEndpoints {
  s3: string;
  dynamodb: string;
  models: string;
  bucket: string;
  tableName: string;
  modelsDir: string;
  imageEndpointName: string;
  textEndpointName: string;
  detectorEndpointName: string;
}

/** s3rver only knows this key pair; dynalite and the model server accept any credentials. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const LOCAL_REGION = 'us-east-1';

export const applyHandlerEnv = (endpoints: HandlerEndpoints, env: NodeJS.ProcessEnv = process.env): void => {
  Object.assign(env, {
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: endpoints.models,
    WEFT_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    UPLOADS_BUCKET: endpoints.bucket,
    TABLE_NAME: endpoints.tableName,
    WEFT_MODELS_DIR: endpoints.modelsDir,
    IMAGE_ENDPOINT_NAME: endpoints.imageEndpointName,
    TEXT_ENDPOINT_NAME: endpoints.textEndpointName,
    DETECTOR_ENDPOINT_NAME: endpoints.detectorEndpointName,
    // The API answers with addresses of the API server's object route, not presigned S3 URLs.
    WEFT_IMAGE_URL_BASE: LOCAL_OBJECTS_PATH,
  });
  // No CloudWatch here: EMF metric lines would only clutter the console.
  env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  // A session token from the user's shell would be sent along with the dummy keys; drop it.
  delete env.AWS_SESSION_TOKEN;
  delete env.AWS_PROFILE;
  resetClients();
};
