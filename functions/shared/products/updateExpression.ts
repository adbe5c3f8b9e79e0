/**
 * Builds UpdateItem expressions with placeholder names for every attribute, so reserved words
 * (`status`, `key`, `value`, `version`...) never need special care at call sites.
 */
export interface UpdateParts {
  UpdateExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

export const buildUpdate = (set: Record<string, unknown>, remove: readonly string[] = []): UpdateParts => {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const setClauses: string[] = [];
  const removeClauses: string[] = [];
  let i = 0;
  for (const [field, value] of Object.entries(set)) {
    if (value === undefined) continue;
    names[`#u${i}`] = field;
    values[`:u${i}`] = value;
    setClauses.push(`#u${i} = :u${i}`);
    i += 1;
  }
  for (const field of remove) {
    names[`#u${i}`] = field;
    removeClauses.push(`#u${i}`);
    i += 1;
  }
  const expression = [
    setClauses.length > 0 ? `SET ${setClauses.join(', ')}` : '',
    removeClauses.length > 0 ? `REMOVE ${removeClauses.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return {
    UpdateExpression: expression,
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
  };
};

/** Merges extra condition names/values into built update parts. */
export const withCondition = (
  parts: UpdateParts,
  condition: string,
  names: Record<string, string>,
  values: Record<string, unknown> = {},
): UpdateParts & { ConditionExpression: string } => ({
  UpdateExpression: parts.UpdateExpression,
  ExpressionAttributeNames: { ...parts.ExpressionAttributeNames, ...names },
  ...(Object.keys(values).length > 0 || parts.ExpressionAttributeValues
    ? { ExpressionAttributeValues: { ...(parts.ExpressionAttributeValues ?? {}), ...values } }
    : {}),
  ConditionExpression: condition,
});

export const isConditionalCheckFailed = (error: unknown): boolean =>
  error instanceof Error && error.name === 'ConditionalCheckFailedException';

/** Deterministic JSON (sorted keys) for comparing what DynamoDB returns with what we computed. */
export const stableStringify = (value: unknown): string => {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
};
