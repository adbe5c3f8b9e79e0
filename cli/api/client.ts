/**
 * The CLI's client of Weft's HTTP API: openapi-fetch over the types generated from the OpenAPI
 * document (clients/typescript/openapi.d.ts), so a path, parameter or response field the
 * document does not have fails `npm run typecheck` here.
 */
import createClient from 'openapi-fetch';
import type { components, paths } from '../../clients/typescript/openapi.js';

export type WeftApi = ReturnType<typeof createClient<paths>>;
export type ApiError = components['schemas']['Error'];
/** Task and label names as the types know them; the deployment's own manifests decide (the API answers 404/400). */
export type TaskName = paths['/attributes/{task}/{value}']['get']['parameters']['path']['task'];
export type LabelName = paths['/attributes/{task}/{value}']['get']['parameters']['path']['value'];

export const defaultApiUrl = (env: NodeJS.ProcessEnv = process.env): string => env.WEFT_API_URL ?? `http://127.0.0.1:${env.WEFT_API_PORT ?? 3000}`;

export const apiClient = (baseUrl: string): WeftApi => createClient<paths>({ baseUrl: baseUrl.replace(/\/$/, '') });

export class ApiCallError extends Error {
  override readonly name = 'ApiCallError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The body of a 2xx answer, or an ApiCallError with the API's `message`. */
export const ok = <T>(result: { data?: T; error?: unknown; response: Response }): T => {
  if (result.data !== undefined && result.response.ok) return result.data;
  const message = (result.error as Partial<ApiError> | undefined)?.message ?? result.response.statusText;
  throw new ApiCallError(result.response.status, `${result.response.status} ${message}`);
};

/** `vendor/productId` → its two parts. */
export const productRef = (ref: string): { vendor: string; productId: string } => {
  const [vendor, productId, ...rest] = ref.split('/');
  if (!vendor || !productId || rest.length > 0) throw new ApiCallError(0, `expected <vendor>/<productId>, got "${ref}"`);
  return { vendor, productId };
};
