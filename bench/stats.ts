/** Small statistics helpers for the benchmark report. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface Summary {
  count: number;
  p50: number;
  p95: number;
  mean: number;
  max: number;
}

export const percentile = (sorted: readonly number[], p: number): number => {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
};

const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

export const summarize = (values: readonly number[]): Summary => {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    mean: round(sorted.length ? sum / sorted.length : Number.NaN),
    max: round(sorted.at(-1) ?? Number.NaN),
  };
};

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * CPU milliseconds of this process (all threads, so libvips workers count too). Garbage left by
 * the previous measurement (a full decode leaves a 30–60 MB buffer) is collected first, so its
 * collection is not charged to whatever is measured next.
 */
export const cpuMs = async (work: () => Promise<unknown>): Promise<number> => {
  collectGarbage();
  const before = process.cpuUsage();
  await work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
};

export { round };
