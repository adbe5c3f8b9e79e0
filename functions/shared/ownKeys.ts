/**
 * Objects keyed by names that come from outside the code — a request path, a vendor document, a
 * manifest, a stored item — are read and written through these, so that `constructor`,
 * `__proto__` or `toString` are plain names: a read never finds what Object.prototype has, and a
 * write never replaces an object's prototype.
 */

/** The object's own value under `key`, never an inherited one. */
export const own = <V>(record: Readonly<Record<string, V>> | undefined, key: string): V | undefined =>
  record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;

/** Sets `key` as an own data property, also when it is `__proto__`. */
export const setOwn = <V>(record: Record<string, V>, key: string, value: V): void => {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
};
