/**
 * What `weft retag` shows while a re-tag runs, from the Distributed Map run's item counts on AWS
 * or the local stack's answers: items done and failed out of the total, and an estimate of the
 * time left from the rate so far.
 */

export interface RetagProgress {
  /** Items finished (succeeded or failed). */
  done: number;
  failed: number;
  /** Items known so far (the listing may still be growing it). */
  total: number;
  elapsedMs: number;
}

/** Milliseconds left at the average rate so far; undefined before anything finished. */
export const etaMs = ({ done, total, elapsedMs }: Pick<RetagProgress, 'done' | 'total' | 'elapsedMs'>): number | undefined => {
  if (done <= 0 || elapsedMs <= 0) return undefined;
  if (done >= total) return 0;
  return Math.round(((total - done) * elapsedMs) / done);
};

export const formatDuration = (ms: number | undefined): string => {
  if (ms === undefined || !Number.isFinite(ms)) return '?';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
};

export const progressLine = (label: string, p: RetagProgress): string =>
  `${label}: ${p.done}/${p.total} items, ${p.failed} failed, ETA ${formatDuration(etaMs(p))}`;
