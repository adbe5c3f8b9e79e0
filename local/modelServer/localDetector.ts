/**
 * A garment detector served on an ephemeral port by the local model server, for tools that cut
 * garment views outside the stack (`weft preprocess`, the garment-view benchmark). It goes through
 * the same Detector client and SageMaker wire format as image-ingest, so the boxes are the ones
 * serving would get.
 */
import { join } from 'node:path';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { Detector } from '../../functions/shared/inference/detector.js';
import { ModelEndpoint } from '../../functions/shared/inference/modelEndpoint.js';
import type { LoadedManifest } from '../../functions/shared/manifest.js';
import { close, listen, urlOf } from '../listen.js';
import { OnnxModel } from './OnnxModel.js';
import { createModelServer } from './server.js';

export interface LocalDetector {
  detector: Detector;
  close(): Promise<void>;
}

export const startLocalDetector = async (manifest: LoadedManifest, threads?: number): Promise<LocalDetector> => {
  const model = await OnnxModel.load(join(manifest.dir, 'manifest.json'), threads ? { threads } : {});
  const server = createModelServer(new Map([[model.name, model]]));
  const url = urlOf(await listen(server, { service: 'model server', port: 0 }));
  const client = new SageMakerRuntimeClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  const detector = new Detector(new ModelEndpoint({ client, endpointName: model.name, manifest }));
  return {
    detector,
    close: async () => {
      client.destroy();
      await close(server);
      await model.close();
    },
  };
};
