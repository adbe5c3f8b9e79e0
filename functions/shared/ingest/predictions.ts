import type { LoadedManifest } from '../manifest.js';
import { own, setOwn } from '../ownKeys.js';
import type { TaskProbabilities } from '../inference/types.js';
import { toDistribution, type Distribution } from '../products/ensemble.js';

/**
 * Probabilities in manifest label order → label-keyed distributions, rounded for storage. A
 * non-finite value (a broken model) becomes 0: DynamoDB cannot store NaN, and 0 carries no vote.
 */
export const toPredictions = (manifest: Pick<LoadedManifest, 'tasks'>, probabilities: TaskProbabilities): Record<string, Distribution> => {
  const out: Record<string, Distribution> = {};
  for (const task of manifest.tasks) {
    const row = own(probabilities, task.name);
    if (row === undefined) continue;
    setOwn(out, task.name, toDistribution(task.labels, Array.from(row, (p: number) => (Number.isFinite(p) ? Math.round(p * 1e6) / 1e6 : 0))));
  }
  return out;
};
