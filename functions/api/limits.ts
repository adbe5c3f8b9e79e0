/** Page sizes of the list routes, shared by the handler and the OpenAPI document. */
export const MAX_LIMIT = 100;
export const DEFAULT_LIMIT = 50;
