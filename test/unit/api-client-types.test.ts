/**
 * The committed client types (clients/typescript/openapi.d.ts, used by the CLI's API calls) are
 * exactly what openapi-typescript makes of the current OpenAPI document: a change to a route,
 * parameter or response schema — or to the shipped models' tasks and labels — that is not
 * followed by `npm run openapi:types` fails here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TYPES_FILE, clientDocument, generateTypes } from '../../clients/typescript/generate.js';

describe('generated client types', () => {
  it('match the document', { timeout: 120_000 }, async () => {
    const committed = readFileSync(TYPES_FILE, 'utf8');
    const fresh = await generateTypes();
    expect(committed === fresh, 'clients/typescript/openapi.d.ts is stale: run `npm run openapi:types` and commit it').toBe(true);
  });

  it('name every operation of the document', () => {
    const committed = readFileSync(TYPES_FILE, 'utf8');
    for (const item of Object.values(clientDocument().paths ?? {})) {
      for (const operation of Object.values(item as Record<string, { operationId?: string }>)) {
        if (operation.operationId) expect(committed).toContain(`${operation.operationId}: {`);
      }
    }
  });
});
