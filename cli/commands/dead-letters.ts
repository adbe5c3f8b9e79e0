/**
 * `weft dead-letters`: messages the local dispatcher gave up on (after the maximum number of
 * receives), read from $WEFT_HOME/dead-letters, so it works whether or not the stack is running.
 * In AWS the same question is answered by the SQS dead-letter queues.
 */
import { resolve, join } from 'node:path';
import type { Command } from 'commander';
import { DeadLetterStore } from '../../local/dispatcher/deadLetterStore.js';

interface DeadLetterOptions {
  home?: string;
  json?: boolean;
  delete?: string[];
  purge?: boolean;
}

export const register = (program: Command): void => {
  program
    .command('dead-letters')
    .description('list (or remove) messages the local dispatcher dead-lettered, with their errors')
    .option('--home <dir>', 'state folder of the local stack (default $WEFT_HOME or .weft)')
    .option('--json', 'print JSON')
    .option('--delete <messageId...>', 'remove these dead letters')
    .option('--purge', 'remove all dead letters')
    .action((opts: DeadLetterOptions) => {
      const home = resolve(opts.home ?? process.env.WEFT_HOME ?? '.weft');
      const store = new DeadLetterStore(join(home, 'dead-letters'));
      const letters = store.list();
      if (opts.purge || opts.delete) {
        const ids = opts.purge ? letters.map((l) => l.messageId) : (opts.delete ?? []);
        const removed = ids.filter((id) => store.remove(id));
        console.log(`removed ${removed.length} dead letter${removed.length === 1 ? '' : 's'}`);
        if (removed.length < ids.length) process.exitCode = 1;
        return;
      }
      if (opts.json) {
        console.log(JSON.stringify(letters, null, 2));
        return;
      }
      if (letters.length === 0) {
        console.log(`no dead letters in ${home}`);
        return;
      }
      for (const l of letters) {
        console.log(`${l.deadLetteredAt}  ${l.queue}  ${l.keys.join(', ') || '(no keys)'}`);
        console.log(`  message ${l.messageId}, ${l.receiveCount} receives, last error: ${l.error}`);
      }
      console.log(`${letters.length} dead letter${letters.length === 1 ? '' : 's'} in ${home}/dead-letters`);
    });
};
