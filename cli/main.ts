/**
 * `weft` command line. Each subcommand lives in cli/commands/<name>.ts and exports
 * `register(program)`, so commands owned by different parts of the system stay independent.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';

export interface CommandModule {
  register(program: Command): void;
}

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');

const program = new Command('weft').description('Weft: standardized fashion attributes from images and vendor text');

for (const file of readdirSync(commandsDir).filter((f) => f.endsWith('.ts')).sort()) {
  const module = (await import(pathToFileURL(join(commandsDir, file)).href)) as CommandModule;
  module.register(program);
}

await program.parseAsync(process.argv);
