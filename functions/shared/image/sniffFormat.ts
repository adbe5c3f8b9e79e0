/**
 * Identifies an upload by its leading bytes before any decoder sees it. The file extension is
 * only the vendor's claim; the magic bytes decide whether a decoder is worth starting, and let
 * the error say "a PDF is not a supported image" rather than a decoder's stack trace.
 */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif' | 'heif' | 'tiff';

export type Sniffed =
  | { kind: 'supported'; format: ImageFormat }
  /** A recognised image (or document) format the pipeline does not decode. */
  | { kind: 'unsupported'; format: string }
  | { kind: 'unknown' };

export const SUPPORTED_FORMATS: readonly ImageFormat[] = ['jpeg', 'png', 'webp', 'gif', 'avif', 'heif', 'tiff'];

const startsWith = (bytes: Uint8Array, signature: readonly number[], offset = 0): boolean =>
  bytes.length >= offset + signature.length && signature.every((b, i) => bytes[offset + i] === b);

const ascii = (bytes: Uint8Array, from: number, to: number): string => String.fromCharCode(...bytes.subarray(from, to));

const AVIF_BRANDS = new Set(['avif', 'avis']);
/** HEVC-coded HEIF (iPhone HEIC): sharp's prebuilt libheif decodes AV1 only (patent licensing). */
const HEVC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx']);
/** Generic HEIF brands: the codec inside decides, so the decoder gets to try. */
const HEIF_BRANDS = new Set(['mif1', 'msf1', 'mif2']);

/** ISO-BMFF (`ftyp` box): AVIF and HEIF share the container and differ by brand. */
const sniffFtyp = (bytes: Uint8Array): Sniffed | undefined => {
  if (bytes.length < 12 || ascii(bytes, 4, 8) !== 'ftyp') return undefined;
  const boxSize = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  const end = Math.min(bytes.length, Math.max(boxSize, 16));
  const brands = [ascii(bytes, 8, 12)];
  for (let i = 16; i + 4 <= end; i += 4) brands.push(ascii(bytes, i, i + 4));
  if (brands.some((b) => AVIF_BRANDS.has(b))) return { kind: 'supported', format: 'avif' };
  if (brands.some((b) => HEVC_BRANDS.has(b))) return { kind: 'unsupported', format: 'heic (HEVC)' };
  if (brands.some((b) => HEIF_BRANDS.has(b))) return { kind: 'supported', format: 'heif' };
  if (brands.some((b) => b === 'jxl ')) return { kind: 'unsupported', format: 'jxl' };
  return { kind: 'unsupported', format: `iso-bmff (${brands[0]!.trim()})` };
};

export const sniffFormat = (bytes: Uint8Array): Sniffed => {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { kind: 'supported', format: 'jpeg' };
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { kind: 'supported', format: 'png' };
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) return { kind: 'supported', format: 'webp' };
  if (bytes.length >= 6 && (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a')) return { kind: 'supported', format: 'gif' };
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return { kind: 'supported', format: 'tiff' };
  const ftyp = sniffFtyp(bytes);
  if (ftyp) return ftyp;
  // Recognised but not decoded: naming them makes the recorded error actionable for the vendor.
  if (startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])) return { kind: 'unsupported', format: 'bigtiff' };
  if (startsWith(bytes, [0x42, 0x4d]) && bytes.length >= 14) return { kind: 'unsupported', format: 'bmp' };
  if (startsWith(bytes, [0x00, 0x00, 0x01, 0x00])) return { kind: 'unsupported', format: 'ico' };
  if (startsWith(bytes, [0x38, 0x42, 0x50, 0x53])) return { kind: 'unsupported', format: 'psd' };
  if (startsWith(bytes, [0x25, 0x50, 0x44, 0x46])) return { kind: 'unsupported', format: 'pdf' };
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) return { kind: 'unsupported', format: 'jxl' };
  if (startsWith(bytes, [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20]) || startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])) return { kind: 'unsupported', format: 'jp2' };
  const head = ascii(bytes, 0, Math.min(bytes.length, 512)).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return { kind: 'unsupported', format: 'svg' };
  return { kind: 'unknown' };
};
