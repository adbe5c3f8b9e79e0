/**
 * The upload layout is a contract with vendors:
 *   {vendor}/{productId}/images/{name}.{ext}
 *   {vendor}/{productId}/product.json
 * Everything that routes or validates keys goes through this module, so the S3 notification
 * filters (CDK), the local dispatcher and the handlers can never disagree.
 */

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Image extensions accepted in the layout (lower case; keys are matched case-insensitively). */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'avif', 'tif', 'tiff'] as const;

export const PRODUCT_FILE = 'product.json';

/** Prefix where the pipeline writes its own outputs (the two views); never treated as an upload. */
export const DERIVED_PREFIX = 'derived/';

export type ParsedKey =
  | { kind: 'image'; key: string; vendor: string; productId: string; name: string }
  | { kind: 'text'; key: string; vendor: string; productId: string }
  | { kind: 'derived'; key: string }
  | { kind: 'rejected'; key: string; reason: string };

/** S3 event keys are URL-encoded with `+` for spaces. */
export const decodeS3Key = (raw: string): string => {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    // A malformed escape is still a key someone uploaded; keep it verbatim so it can be rejected by name.
    return raw;
  }
};

/**
 * The inverse of {@link decodeS3Key}: how S3 encodes a key in a notification (Java URLEncoder
 * style: space → `+`, `/` kept, `!'()~` escaped too), so `my shirt (1).jpg` becomes
 * `my+shirt+%281%29.jpg`. The local S3 and the re-tag job build their notifications with it.
 */
export const encodeS3Key = (key: string): string =>
  encodeURIComponent(key)
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
    .replace(/%2F/g, '/');

export const parseKey = (key: string): ParsedKey => {
  if (key.startsWith(DERIVED_PREFIX)) return { kind: 'derived', key };
  const parts = key.split('/');
  const [vendor, productId] = parts;
  if (parts.length < 3 || vendor === undefined || productId === undefined) {
    return { kind: 'rejected', key, reason: 'key must be {vendor}/{productId}/product.json or {vendor}/{productId}/images/{name}.{ext}' };
  }
  if (!ID_PATTERN.test(vendor)) return { kind: 'rejected', key, reason: `invalid vendor "${vendor}": must match ${ID_PATTERN.source}` };
  if (!ID_PATTERN.test(productId)) return { kind: 'rejected', key, reason: `invalid productId "${productId}": must match ${ID_PATTERN.source}` };
  if (parts.length === 3 && parts[2] === PRODUCT_FILE) return { kind: 'text', key, vendor, productId };
  if (parts.length === 4 && parts[2] === 'images') {
    const name = parts[3] ?? '';
    const ext = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1).toLowerCase() : '';
    if (name.length === 0 || name.startsWith('.')) return { kind: 'rejected', key, reason: 'image file name is empty' };
    if (!(IMAGE_EXTENSIONS as readonly string[]).includes(ext)) {
      return { kind: 'rejected', key, reason: `unsupported image extension ".${ext}": expected one of ${IMAGE_EXTENSIONS.join(', ')}` };
    }
    return { kind: 'image', key, vendor, productId, name };
  }
  return { kind: 'rejected', key, reason: 'key must be {vendor}/{productId}/product.json or {vendor}/{productId}/images/{name}.{ext}' };
};

/**
 * S3 notification filters (one suffix per configuration, case-sensitive) that deliver objects to
 * each queue. The dispatcher applies exactly these rules locally, so a key that AWS would never
 * deliver is not delivered locally either.
 */
export const NOTIFICATION_SUFFIXES = {
  image: IMAGE_EXTENSIONS.flatMap((ext) => [`.${ext}`, `.${ext.toUpperCase()}`]),
  text: [`/${PRODUCT_FILE}`],
} as const;

export type QueueName = keyof typeof NOTIFICATION_SUFFIXES;

export const queueForKey = (key: string): QueueName | undefined =>
  (Object.keys(NOTIFICATION_SUFFIXES) as QueueName[]).find((queue) =>
    NOTIFICATION_SUFFIXES[queue].some((suffix) => key.endsWith(suffix)),
  );

/**
 * Views are PNGs (the put sets `Content-Type: image/png`) but their keys carry no extension: S3
 * notification filters cannot exclude a prefix, so a `.png` suffix would send every derived view
 * back through the image queue as a message the handler can only skip.
 */
export const derivedViewKey = (imageKey: string, view: string): string => `${DERIVED_PREFIX}${imageKey}/${view}`;
