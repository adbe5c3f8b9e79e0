/**
 * `weft color [NAME...]`: vendor color names → base colors, one `<name>\t<base or unknown>` line
 * per name; names come from stdin, one per line, when none are given.
 */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { normalizeColor, type NormalizedColor } from '../../functions/shared/color/normalizeColor.js';

const format = (result: NormalizedColor, json: boolean): string =>
  json ? JSON.stringify(result) : `${result.raw}\t${result.normalized}`;

export function register(program: Command): void {
  program
    .command('color')
    .description('map vendor color names to base colors (names from stdin, one per line, when none are given)')
    .argument('[names...]', 'vendor color names')
    .option('--json', 'print one JSON object per name with how it was decided (via, matched, hex, deltaE)')
    .action(async (names: string[], opts: { json?: boolean }) => {
      const json = opts.json ?? false;
      if (names.length > 0) {
        process.stdout.write(names.map((name) => `${format(normalizeColor(name), json)}\n`).join(''));
        return;
      }
      const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
      for await (const line of lines) {
        if (line.trim() === '') continue;
        if (!process.stdout.write(`${format(normalizeColor(line), json)}\n`)) {
          await new Promise((resolve) => process.stdout.once('drain', resolve));
        }
      }
    });
}
