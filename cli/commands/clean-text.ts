/**
 * `weft clean-text`: the text-ingest cleaner on stdin.
 *
 * Default: all of stdin (any bytes) is one text; the cleaned text goes to stdout.
 * `--jsonl`: batch mode for the Python data builder, one process for thousands of texts. Each
 * input line is a JSON string (or an object with a string `text`); each output line is the
 * cleaned text as a JSON string, in input order. A line that is not valid gives `null` on stdout
 * and a message with its line number on stderr, so output stays aligned with input and one bad
 * line never costs its neighbours.
 * `--jsonl --strip-boilerplate`: lines are objects `{"text", "vendor", "productId"}`; all lines are
 * read first, every product's sentences are counted per vendor (in memory, the same
 * BoilerplateFilter text-ingest uses), then each cleaned text is written without its vendor's
 * boilerplate. Lines without vendor and productId are cleaned only.
 */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { describeError } from '../../functions/shared/errors.js';
import { cleanText, DEFAULT_MAX_CHARS, type CleanTextOptions } from '../../functions/shared/text/cleanText.js';
import {
  BoilerplateFilter,
  DEFAULT_BOILERPLATE_OPTIONS,
  InMemoryBoilerplateStore,
} from '../../functions/shared/text/boilerplate.js';

interface CleanTextCliOptions {
  jsonl?: boolean;
  maxChars: string;
  singleLine?: boolean;
  stripBoilerplate?: boolean;
  minProducts: string;
  minShare: string;
  minWords: string;
}

export interface BatchLine {
  text: string;
  vendor?: string;
  productId?: string;
}

const readAll = async (stream: NodeJS.ReadableStream): Promise<Uint8Array> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
};

const write = async (text: string): Promise<void> => {
  if (!process.stdout.write(text)) await new Promise((resolve) => process.stdout.once('drain', resolve));
};

/** The text (and, for objects, vendor and product) of one batch line, or an error message. */
export function parseLine(line: string): BatchLine | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { error: `not JSON (${(error as Error).message})` };
  }
  if (typeof value === 'string') return { text: value };
  if (value !== null && typeof value === 'object' && typeof (value as { text?: unknown }).text === 'string') {
    const { text, vendor, productId } = value as { text: string; vendor?: unknown; productId?: unknown };
    return {
      text,
      ...(typeof vendor === 'string' && vendor !== '' ? { vendor } : {}),
      ...(typeof productId === 'string' && productId !== '' ? { productId } : {}),
    };
  }
  return { error: 'expected a JSON string or an object with a string "text"' };
}

const parseNumber = (flag: string, value: string, integer: boolean, min: number, max = Infinity): number => {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || (integer && !Number.isInteger(parsed)) || parsed < min || parsed > max) {
    throw new Error(`${flag} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got "${value}"`);
  }
  return parsed;
};

type Parsed = BatchLine | { error: string };

const readLines = async function* (): AsyncGenerator<Parsed> {
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) yield parseLine(line);
};

/** Cleans every line; with a filter, counts all products first and then strips boilerplate. */
async function runBatch(options: CleanTextOptions, filter: BoilerplateFilter | undefined): Promise<void> {
  let lineNumber = 0;
  let failures = 0;
  const fail = (error: string): void => {
    failures += 1;
    process.stderr.write(`clean-text: line ${lineNumber}: ${error}\n`);
  };
  if (!filter) {
    for await (const parsed of readLines()) {
      lineNumber += 1;
      if ('error' in parsed) {
        fail(parsed.error);
        await write('null\n');
      } else {
        await write(`${JSON.stringify(cleanText(parsed.text, options))}\n`);
      }
    }
  } else {
    const rows: (BatchLine | null)[] = [];
    for await (const parsed of readLines()) {
      lineNumber += 1;
      if ('error' in parsed) {
        fail(parsed.error);
        rows.push(null);
        continue;
      }
      const row = { ...parsed, text: cleanText(parsed.text, options) };
      if (row.vendor !== undefined && row.productId !== undefined) await filter.observe(row.vendor, row.productId, row.text);
      rows.push(row);
    }
    let removed = 0;
    for (const row of rows) {
      if (row === null) {
        await write('null\n');
        continue;
      }
      let text = row.text;
      if (row.vendor !== undefined && row.productId !== undefined) {
        const stripped = await filter.strip(row.vendor, row.text);
        removed += stripped.removed.length;
        text = stripped.text;
      }
      await write(`${JSON.stringify(text)}\n`);
    }
    process.stderr.write(`clean-text: removed ${removed} boilerplate sentences from ${rows.length} texts\n`);
  }
  if (failures > 0) process.stderr.write(`clean-text: ${failures} of ${lineNumber} lines were not valid input\n`);
}

export function register(program: Command): void {
  program
    .command('clean-text')
    .description('clean vendor text from stdin (mojibake, HTML, NFKC, invisible characters, whitespace, length cap)')
    .option('--jsonl', 'batch mode: one JSON string (or {"text": ...}) per input line, one JSON string per output line')
    .option('--max-chars <n>', 'longest output, truncation marker included', String(DEFAULT_MAX_CHARS))
    .option('--single-line', 'join block boundaries with spaces instead of newlines')
    .option('--strip-boilerplate', 'with --jsonl: remove per-vendor boilerplate learned from the whole input ({"text","vendor","productId"} lines)')
    .option('--min-products <n>', 'boilerplate: sentence in at least this many of the vendor\'s products', String(DEFAULT_BOILERPLATE_OPTIONS.minProducts))
    .option('--min-share <x>', 'boilerplate: …and in at least this share of them (0-1)', String(DEFAULT_BOILERPLATE_OPTIONS.minShare))
    .option('--min-words <n>', 'boilerplate: shorter sentences are never removed', String(DEFAULT_BOILERPLATE_OPTIONS.minWords))
    .action(async (opts: CleanTextCliOptions, command: Command) => {
      try {
        await run(opts);
      } catch (error) {
        command.error(`clean-text: ${describeError(error)}`, { exitCode: 2 });
      }
    });
}

async function run(opts: CleanTextCliOptions): Promise<void> {
  const options: CleanTextOptions = {
    maxChars: parseNumber('--max-chars', opts.maxChars, true, 1),
    singleLine: opts.singleLine ?? false,
  };
  if (opts.stripBoilerplate && !opts.jsonl) throw new Error('--strip-boilerplate needs --jsonl');
  if (!opts.jsonl) {
    await write(`${cleanText(await readAll(process.stdin), options)}\n`);
    return;
  }
  const filter = opts.stripBoilerplate
    ? new BoilerplateFilter(new InMemoryBoilerplateStore(), {
        minProducts: parseNumber('--min-products', opts.minProducts, true, 1),
        minShare: parseNumber('--min-share', opts.minShare, false, 0, 1),
        minWords: parseNumber('--min-words', opts.minWords, true, 1),
      })
    : undefined;
  await runBatch(options, filter);
}
