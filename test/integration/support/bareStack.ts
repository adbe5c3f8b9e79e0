/**
 * A local stack whose handlers acknowledge everything and that serves no models: for tests of the
 * local servers themselves (S3 writes, request limits, cross-site rules), where the pipeline's
 * work would only add time. `stop()` also removes the stack's temporary home.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type RunningStack, type StackOptions } from '../../../local/stack.js';

export const startBareStack = async (
  name: string,
  options: Partial<Pick<StackOptions, 'onS3Record'>> & { api?: NonNullable<StackOptions['handlers']>['api'] } = {},
): Promise<{ stack: RunningStack; home: string; stop: () => Promise<void> }> => {
  const home = mkdtempSync(join(tmpdir(), `weft-${name}-`));
  mkdirSync(join(home, 'no-models'));
  const ack = async () => ({ batchItemFailures: [] });
  const stack = await startStack({
    home,
    modelsDir: join(home, 'no-models'),
    quiet: true,
    handlers: { image: ack, text: ack, api: options.api ?? (async () => ({ statusCode: 200, body: '{}' })) },
    ...(options.onS3Record ? { onS3Record: options.onS3Record } : {}),
  });
  return {
    stack,
    home,
    stop: async () => {
      await stack.stop();
      rmSync(home, { recursive: true, force: true });
    },
  };
};
