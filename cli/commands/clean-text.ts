/**
 * `weft clean-text`: the text-ingest cleaner on stdin.
 *
 * Default: all of stdin (any bytes) is one text; the cleaned text goes to stdout.
 * `--jsonl`: batch mode for the Python data builder, one process for thousands of texts. Each
 * input line is a JSON string (or an object with a string `text`); each output line is the
 * cleaned text as a JSON string, in input order. A line that is not valid gives `null` on stdout
 * and a message with its line number on stderr, so output stays aligned with input and one bad
 * line never costs its neighbours.
 */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { cleanText, DEFAULT_MAX_CHARS, type CleanTextOptions } from '../../functions/shared/text/cleanText.js';

interface CleanTextCliOptions {
  jsonl?: boolean;
  maxChars: string;
  singleLine?: boolean;
}

const readAll = async (stream: NodeJS.ReadableStream): Promise<Uint8Array> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
};

const write = async (text: string): Promise<void> => {
  if (!process.stdout.write(text)) await new Promise((resolve) => process.stdout.once('drain', resolve));
};

/** The text of one batch line, or an error message. */
export function textOfLine(line: string): { text: string } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { error: `not JSON (${(error as Error).message})` };
  }
  if (typeof value === 'string') return { text: value };
  if (value !== null && typeof value === 'object' && typeof (value as { text?: unknown }).text === 'string') {
    return { text: (value as { text: string }).text };
  }
  return { error: 'expected a JSON string or an object with a string "text"' };
}

const parseMaxChars = (value: string): number => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`--max-chars must be a positive integer, got "${value}"`);
  return parsed;
};

export function register(program: Command): void {
  program
    .command('clean-text')
    .description('clean vendor text from stdin (mojibake, HTML, NFKC, invisible characters, whitespace, length cap)')
    .option('--jsonl', 'batch mode: one JSON string (or {"text": ...}) per input line, one JSON string per output line')
    .option('--max-chars <n>', 'longest output, truncation marker included', String(DEFAULT_MAX_CHARS))
    .option('--single-line', 'join block boundaries with spaces instead of newlines')
    .action(async (opts: CleanTextCliOptions) => {
      const options: CleanTextOptions = { maxChars: parseMaxChars(opts.maxChars), singleLine: opts.singleLine ?? false };
      if (!opts.jsonl) {
        await write(`${cleanText(await readAll(process.stdin), options)}\n`);
        return;
      }
      let lineNumber = 0;
      let failures = 0;
      const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
      for await (const line of lines) {
        lineNumber += 1;
        const parsed = textOfLine(line);
        if ('error' in parsed) {
          failures += 1;
          process.stderr.write(`clean-text: line ${lineNumber}: ${parsed.error}\n`);
          await write('null\n');
        } else {
          await write(`${JSON.stringify(cleanText(parsed.text, options))}\n`);
        }
      }
      if (failures > 0) process.stderr.write(`clean-text: ${failures} of ${lineNumber} lines were not valid input\n`);
    });
}
