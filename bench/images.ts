/**
 * Benchmark inputs: real photographs (8 MP or more) from Debian wallpaper packages or a folder
 * the user names, and vendor-size product images rendered here with sharp (or samples/catalog).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import sharp from 'sharp';

export interface BenchImage {
  name: string;
  bytes: Buffer;
  width: number;
  height: number;
  /** How the JPEG came to be: as found, or re-encoded from a PNG photograph. */
  origin: string;
}

/**
 * Real photographs of 8 MP or more shipped in Debian packages (checked by eye: the large
 * plasma-workspace-wallpapers and gnome/ukui backgrounds are renders and illustrations, not
 * photographs, so they are not used by default). Install with
 *   apt-get install lomiri-wallpapers-16.04 lomiri-wallpapers-20.04
 */
export const DEBIAN_PHOTOS: { package: string; path: string }[] = [
  ...['Bridge_by_Sander_Klootwijk.jpg', 'Dragonfly_by_Bolly.jpg', 'Wine_by_Jakkub_Mede.jpg', 'picosdeeuropa_by_Aitzol_Berasategi.jpg', 'seeding_by_Clements_Engelhardt.jpg', 'sunset_by_Aitzol_Berasategi.jpg'].map(
    (f) => ({ package: 'lomiri-wallpapers-16.04', path: `/usr/share/backgrounds/${f}` }),
  ),
  ...['Kleiber_by_Lukas_Baubkus.jpg', 'Infinite-Sea_by_Aury88.jpg'].map((f) => ({ package: 'lomiri-wallpapers-20.04', path: `/usr/share/backgrounds/${f}` })),
];
export const PHOTO_PACKAGES = [...new Set(DEBIAN_PHOTOS.map((p) => p.package))];
const MIN_PHOTO_PIXELS = 8_000_000;

const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return walk(path);
    return entry.isFile() ? [path] : [];
  });

/**
 * Photographs of at least 8 MP: the Debian ones above that are installed, or every JPEG/PNG of
 * 8 MP or more under the folders given. PNGs are encoded once to JPEG (quality 90), because the
 * benchmark compares against decoding "the same JPEG".
 */
export const findPhotos = async (dirs: string[] | undefined, limit: number): Promise<BenchImage[]> => {
  const files = dirs ? dirs.filter((d) => existsSync(d)).flatMap(walk).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort() : DEBIAN_PHOTOS.map((p) => p.path).filter((f) => existsSync(f));
  const photos: BenchImage[] = [];
  for (const file of files) {
    if (photos.length >= limit) break;
    const meta = await sharp(file).metadata().catch(() => undefined);
    if (!meta?.width || !meta.height || meta.width * meta.height < MIN_PHOTO_PIXELS) continue;
    const name = basename(file);
    if (meta.format === 'jpeg') {
      photos.push({ name, bytes: readFileSync(file), width: meta.width, height: meta.height, origin: meta.isProgressive ? 'jpeg as shipped (progressive)' : 'jpeg as shipped (baseline)' });
    } else if (meta.format === 'png') {
      const bytes = await sharp(file).jpeg({ quality: 90 }).toBuffer();
      photos.push({ name, bytes, width: meta.width, height: meta.height, origin: 'png encoded to baseline jpeg q90' });
    }
  }
  return photos;
};

/**
 * The same photographs as a camera or phone writes them: baseline JPEG (quality 90, 4:2:0).
 * Wallpaper packages ship mostly progressive JPEGs, whose entropy decoding no decode-time
 * shrink can skip; vendor uploads straight from cameras are baseline.
 */
export const asBaseline = async (photos: BenchImage[]): Promise<BenchImage[]> =>
  Promise.all(photos.map(async (p) => ({ ...p, bytes: await sharp(p.bytes).jpeg({ quality: 90 }).toBuffer(), origin: 'baseline jpeg q90 re-encoded from the photograph' })));

/** Product shots as vendors upload them: 1000–2000 px JPEGs, a garment-like shape on white. */
export const VENDOR_SIZES: [number, number][] = [
  [1000, 1000],
  [1200, 1600],
  [1500, 1500],
  [1600, 2000],
  [2000, 2000],
  [1080, 1350],
];

export const renderProductImage = async (width: number, height: number, seed: number): Promise<Buffer> => {
  const hue = (seed * 47) % 360;
  const stripe = seed % 3 === 0;
  const w = Math.round(width * 0.6);
  const h = Math.round(height * 0.7);
  const pattern = stripe
    ? `<pattern id="p" width="${Math.max(8, Math.round(w / 24))}" height="10" patternUnits="userSpaceOnUse"><rect width="50%" height="10" fill="hsl(${hue},60%,35%)"/><rect x="50%" width="50%" height="10" fill="hsl(${hue},40%,85%)"/></pattern>`
    : `<linearGradient id="p" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue},65%,55%)"/><stop offset="1" stop-color="hsl(${hue},55%,30%)"/></linearGradient>`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs>${pattern}</defs>
    <rect width="100%" height="100%" fill="#fafafa"/>
    <path d="M ${(width - w) / 2} ${(height - h) / 2 + h * 0.15} l ${w * 0.25} ${-h * 0.15} h ${w * 0.5} l ${w * 0.25} ${h * 0.15} v ${h * 0.2} h ${-w * 0.15} v ${h * 0.8} h ${-w * 0.7} v ${-h * 0.8} h ${-w * 0.15} z" fill="url(#p)" stroke="#222" stroke-width="3"/>
    <circle cx="${width / 2}" cy="${height / 2}" r="${Math.min(w, h) * 0.05}" fill="#eee"/>
  </svg>`;
  // A little sensor noise, so the JPEG carries texture like a real product photo.
  const noise = await sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 6 } } }).png().toBuffer();
  return sharp(Buffer.from(svg)).composite([{ input: noise, blend: 'overlay' }]).jpeg({ quality: 88, mozjpeg: false }).toBuffer();
};

/** samples/catalog images when P1's catalog is present, else rendered ones. */
export const vendorImages = async (count: number, catalogDir: string): Promise<BenchImage[]> => {
  const images: BenchImage[] = [];
  if (existsSync(catalogDir)) {
    for (const file of walk(catalogDir).filter((f) => /\/images\/[^/]+\.(jpe?g)$/i.test(f)).sort()) {
      if (images.length >= count) break;
      const bytes = readFileSync(file);
      const meta = await sharp(bytes).metadata();
      if (!meta.width || !meta.height || meta.width * meta.height < 500_000) continue; // thumbnails are not vendor-size
      images.push({ name: relative(catalogDir, file), bytes, width: meta.width, height: meta.height, origin: 'samples/catalog' });
    }
  }
  for (let i = 0; images.length < count; i++) {
    const [width, height] = VENDOR_SIZES[i % VENDOR_SIZES.length]!;
    images.push({ name: `rendered-${width}x${height}-${i}.jpg`, bytes: await renderProductImage(width, height, i), width, height, origin: 'rendered' });
  }
  return images;
};

export const sizeOf = (file: string): number => statSync(file).size;
