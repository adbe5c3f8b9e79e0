/**
 * What a catalog re-tag covers, as the CLI takes it and as the re-tag job's execution input
 * carries it: an optional vendor and modality, and which sources to send again.
 *
 * - neither flag: every source that is not tagged at the deployed model version (stale, missing,
 *   failed or still pending); a source tagged by its current upload at the deployed version is
 *   never tagged again;
 * - `staleOnly`: only sources tagged with a model version other than the deployed one;
 * - `missingOnly`: only objects that have no source in the table at all (the reconciliation pass
 *   for uploads whose notification never arrived).
 */
import { z } from 'zod';
import { ID_PATTERN } from '../layout.js';

export const RETAG_MODALITIES = ['image', 'text'] as const;
export type RetagModality = (typeof RETAG_MODALITIES)[number];

export const RetagFiltersSchema = z
  .object({
    vendor: z.string().regex(ID_PATTERN, `vendor must match ${ID_PATTERN.source}`).optional(),
    modality: z.enum(RETAG_MODALITIES).optional(),
    staleOnly: z.boolean().optional(),
    missingOnly: z.boolean().optional(),
  })
  .strict()
  .refine((f) => !(f.staleOnly && f.missingOnly), { message: 'staleOnly and missingOnly exclude each other' });

export type RetagFilters = z.infer<typeof RetagFiltersSchema>;

export class RetagFilterError extends Error {
  override readonly name = 'RetagFilterError';
}

/** Validates filters from a command line or an execution input; throws RetagFilterError naming the problem. */
export const parseRetagFilters = (input: unknown): RetagFilters => {
  const parsed = RetagFiltersSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RetagFilterError(`invalid re-tag filters: ${issue?.path.length ? `${issue.path.join('.')}: ` : ''}${issue?.message ?? 'unknown problem'}`);
  }
  // Only the fields that are set, so the execution input and the results read the same.
  const { vendor, modality, staleOnly, missingOnly } = parsed.data;
  return { ...(vendor ? { vendor } : {}), ...(modality ? { modality } : {}), ...(staleOnly ? { staleOnly } : {}), ...(missingOnly ? { missingOnly } : {}) };
};

/** The listing prefix of the filters: `{vendor}/`, or the whole bucket (derived/ included, skipped per key). */
export const listPrefix = (filters: RetagFilters): string => (filters.vendor ? `${filters.vendor}/` : '');

/**
 * The input of one re-tag job execution (lib/retag/RetagJob.ts): the filters every batch is
 * checked with, the listing prefix, and, when the job reads an S3 Inventory manifest instead of
 * listing the bucket, that manifest's key in the environment's inventory bucket.
 */
export interface RetagExecutionInput {
  filters: RetagFilters;
  prefix: string;
  inventoryManifestKey?: string;
}

export const retagExecutionInput = (filters: RetagFilters, inventoryManifestKey?: string): RetagExecutionInput => ({
  filters,
  prefix: listPrefix(filters),
  ...(inventoryManifestKey ? { inventoryManifestKey } : {}),
});

/** A readable execution name (Step Functions: ≤ 80 characters of [A-Za-z0-9_-]), unique per start. */
export const retagExecutionName = (filters: RetagFilters, now: Date, suffix: string): string => {
  const scope = [filters.vendor ?? 'all', filters.modality ?? 'both', filters.staleOnly ? 'stale' : filters.missingOnly ? 'missing' : 'untagged'];
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const name = `retag-${scope.join('-')}-${stamp}-${suffix}`.replace(/[^A-Za-z0-9_-]/g, '_');
  return name.length <= 80 ? name : `retag-${stamp}-${suffix}`.slice(0, 80);
};
