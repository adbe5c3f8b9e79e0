/**
 * Text cleaning cost per KB of vendor text, side by side with a baseline that only does NFKC and
 * whitespace collapsing (what a minimal cleaner would do), plus the color normalizer's cold-start
 * and per-name cost. Run: `npx tsx bench/text.ts [--json out.json]`.
 *
 * Corpora are built deterministically from vendor-style fragments: plain prose, HTML product
 * descriptions (lists, tables, entities, script/style), mojibake, and a large HTML page.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import iconv from 'iconv-lite';
import { cleanText } from '../functions/shared/text/cleanText.js';

const sentences = [
  'Relaxed crew-neck tee in heavyweight organic cotton jersey.',
  'Cut for a boxy fit with dropped shoulders and a straight hem.',
  'The model is 185 cm tall and wears a size M.',
  'Garment-dyed for a soft, lived-in feel from the first wear.',
  'Free returns within 30 days of purchase — see our policy for details.',
  'Machine wash cold with like colours; tumble dry low.',
  'Women’s “Soft Touch” leggings with a high-rise waistband & hidden pocket.',
  'Made in Portugal from 95% cotton, 5% elastane.',
];

const repeatTo = (make: (i: number) => string, bytes: number): string => {
  let out = '';
  for (let i = 0; Buffer.byteLength(out) < bytes; i++) out += make(i);
  return out;
};

const plain = repeatTo((i) => `${sentences[i % sentences.length]} `, 1024);
const html = repeatTo(
  (i) =>
    i % 5 === 0
      ? `<h3>Details</h3><ul><li>${sentences[i % sentences.length]}</li><li>Fit&nbsp;&amp;&nbsp;feel</li></ul>`
      : i % 7 === 0
        ? '<table><tr><th>Size</th><th>Chest</th></tr><tr><td>M</td><td>100&nbsp;cm</td></tr></table><script>track("view")</script>'
        : `<p class="desc">${sentences[i % sentences.length]}</p>`,
  2048,
);
const mojibake = iconv.decode(Buffer.from(plain, 'utf8'), 'win1252');
const largeHtml = `<html><head><style>p{margin:0}</style></head><body>${repeatTo((i) => `<p>${sentences[i % sentences.length]}</p>\n`, 50 * 1024)}</body></html>`;

const corpora: Record<string, string> = { plain, html, mojibake, 'html-50KB': largeHtml };

/** What a minimal cleaner does: Unicode NFKC and whitespace collapsing. */
const baseline = (text: string): string => text.normalize('NFKC').replace(/\s+/g, ' ').trim();

/** Median microseconds per call, after warm-up, over at least `minMs` of calls. */
const measure = (fn: () => unknown, minMs = 400): number => {
  for (let i = 0; i < 20; i++) fn();
  const samples: number[] = [];
  const start = performance.now();
  while (performance.now() - start < minMs || samples.length < 30) {
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) * 1000);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] ?? NaN;
};

export interface TextBenchRow {
  corpus: string;
  kb: number;
  cleanUsPerKb: number;
  baselineUsPerKb: number;
  ratio: number;
}

export async function benchText(): Promise<{ rows: TextBenchRow[]; color: { coldStartMs: number; usPerName: number } }> {
  const rows: TextBenchRow[] = Object.entries(corpora).map(([corpus, text]) => {
    const kb = Buffer.byteLength(text) / 1024;
    const cleanUs = measure(() => cleanText(text, { maxChars: 1_000_000 }));
    const baseUs = measure(() => baseline(text));
    return { corpus, kb: round(kb, 1), cleanUsPerKb: round(cleanUs / kb, 1), baselineUsPerKb: round(baseUs / kb, 2), ratio: round(cleanUs / baseUs, 1) };
  });

  const t0 = performance.now();
  const { normalizeColor } = await import('../functions/shared/color/normalizeColor.js');
  normalizeColor('Poseidon'); // not in the lexicon: builds the data-set index
  const coldStartMs = performance.now() - t0;
  const { colornames } = await import('color-name-list');
  // Distinct names defeat the memo, so this is the uncached cost (data-set path included).
  const names = colornames.slice(0, 20_000).map((c, i) => `${i % 2 ? 'washed ' : ''}${c.name}`);
  const t1 = performance.now();
  for (const name of names) normalizeColor(name);
  const usPerName = ((performance.now() - t1) * 1000) / names.length;
  return { rows, color: { coldStartMs: round(coldStartMs, 0), usPerName: round(usPerName, 1) } };
}

const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await benchText();
  console.log('| corpus | KB | cleanText µs/KB | NFKC+whitespace µs/KB | ratio |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of result.rows) console.log(`| ${r.corpus} | ${r.kb} | ${r.cleanUsPerKb} | ${r.baselineUsPerKb} | ${r.ratio}× |`);
  console.log(`\ncolor normalizer: cold start ${result.color.coldStartMs} ms (module import + data-set index), ${result.color.usPerName} µs per uncached name`);
  const jsonAt = process.argv.indexOf('--json');
  const out = jsonAt > 0 ? process.argv[jsonAt + 1] : undefined;
  if (out) writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
}
