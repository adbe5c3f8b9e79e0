/**
 * The products a chaos round uploads, drawn from the round's seed: N products of
 * `imagesPerProduct` JPEGs and a product.json each, under vendor `chaos`. A share of the images
 * (`badRate`) are not images at all, so every round also has errors the pipeline must record.
 * Every product.json carries the same shipping sentence, so the vendor's boilerplate counters
 * (which must count each product once) are exercised too.
 */
import sharp from 'sharp';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

export const VENDOR = 'chaos';

export interface UploadFile {
  key: string;
  productId: string;
  kind: 'image' | 'text';
  body: Uint8Array;
  contentType: string;
  /** Not an image: the pipeline must record an error for it, not tag it. */
  bad: boolean;
}

export interface Product {
  productId: string;
  /** In upload order: images, then product.json (as a vendor tool uploads). */
  files: UploadFile[];
}

const COLORS: { name: string; rgb: [number, number, number] }[] = [
  { name: 'navy', rgb: [20, 30, 90] },
  { name: 'brick red', rgb: [170, 50, 40] },
  { name: 'forest green', rgb: [30, 100, 50] },
  { name: 'off-white', rgb: [235, 230, 215] },
  { name: 'charcoal', rgb: [60, 60, 65] },
  { name: 'mustard', rgb: [210, 170, 40] },
];
const GARMENTS = ['cotton shirt', 'denim jacket', 'wool pullover', 'summer dress', 'canvas tote', 'linen trousers'];
const BOILERPLATE = 'Free shipping on every order over fifty euros, returns within thirty days.';

/** One JPEG per color, rendered once per run: a garment-like block on white with light noise. */
export const renderImages = async (): Promise<Uint8Array[]> =>
  Promise.all(
    COLORS.map(({ rgb: [r, g, b] }) =>
      sharp({ create: { width: 320, height: 400, channels: 3, background: { r: 255, g: 255, b: 255 }, noise: { type: 'gaussian', mean: 240, sigma: 8 } } })
        .composite([{ input: { create: { width: 200, height: 280, channels: 3, background: { r, g, b } } }, gravity: 'centre' }])
        .jpeg({ quality: 85 })
        .toBuffer(),
    ),
  );

export const makeCatalog = (rng: RandomGenerator, opts: { products: number; imagesPerProduct: number; badRate: number; images: Uint8Array[] }): Product[] =>
  Array.from({ length: opts.products }, (_, p): Product => {
    const productId = `p${String(p + 1).padStart(4, '0')}`;
    const color = COLORS[uniformInt(rng, 0, COLORS.length - 1)]!;
    const garment = GARMENTS[uniformInt(rng, 0, GARMENTS.length - 1)]!;
    const files: UploadFile[] = [];
    for (let i = 0; i < opts.imagesPerProduct; i++) {
      const bad = uniformFloat64(rng) < opts.badRate;
      const body = bad ? new TextEncoder().encode(`not an image: chaos ${productId} ${i}\n`) : opts.images[uniformInt(rng, 0, opts.images.length - 1)]!;
      files.push({ key: `${VENDOR}/${productId}/images/${i}.jpg`, productId, kind: 'image', body, contentType: 'image/jpeg', bad });
    }
    const document = { title: `${color.name} ${garment} ${p + 1}`, description: `A ${color.name} ${garment} from the chaos catalog. ${BOILERPLATE}`, brand: 'Weft Chaos', color: color.name };
    files.push({ key: `${VENDOR}/${productId}/product.json`, productId, kind: 'text', body: new TextEncoder().encode(JSON.stringify(document)), contentType: 'application/json', bad: false });
    return { productId, files };
  });
