/**
 * `weft dead-letters`: messages the local dispatcher gave up on (after the maximum number of
 * receives), read from $WEFT_HOME/dead-letters, so listing and deleting work whether or not the
 * stack is running. `--redrive` puts them back on their queue (like an SQS DLQ redrive), which
 * needs the running stack: it asks its API port. In AWS the SQS dead-letter queues answer all this.
 */
import { resolve, join } from 'node:path';
import type { Command } from 'commander';
import { DeadLetterStore } from '../../local/dispatcher/deadLetterStore.js';

interface DeadLetterOptions {
  home?: string;
  json?: boolean;
  delete?: string[];
  purge?: boolean;
  redrive?: boolean | string[];
  api: string;
}

const redrive = async (api: string, ids: string[]): Promise<number> => {
  const query = ids.map((id) => `messageId=${encodeURIComponent(id)}`).join('&');
  let response: Response;
  try {
    response = await fetch(`${api}/local/dead-letters/redrive${query ? `?${query}` : ''}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  } catch (error) {
    console.error(`weft dead-letters: cannot reach the local stack at ${api} (${(error as Error).message}); redrive needs it running (npm start)`);
    return 1;
  }
  if (!response.ok) {
    console.error(`weft dead-letters: ${api} answered ${response.status}: ${await response.text()}`);
    return 1;
  }
  const { redriven } = (await response.json()) as { redriven: { from: string; queue: string; keys: string[] }[] };
  for (const r of redriven) console.log(`redriven ${r.from} to ${r.queue}: ${r.keys.join(', ')}`);
  console.log(`redriven ${redriven.length} dead letter${redriven.length === 1 ? '' : 's'}`);
  return 0;
};

export const register = (program: Command): void => {
  program
    .command('dead-letters')
    .description('list (or remove) messages the local dispatcher dead-lettered, with their errors')
    .option('--home <dir>', 'state folder of the local stack (default $WEFT_HOME or .weft)')
    .option('--json', 'print JSON')
    .option('--delete <messageId...>', 'remove these dead letters')
    .option('--purge', 'remove all dead letters')
    .option('--redrive [messageId...]', 'send dead letters (all, or these) back to their queue; needs the running stack')
    .option('--api <url>', 'API URL of the running local stack, for --redrive', `http://127.0.0.1:${process.env.WEFT_API_PORT ?? 3000}`)
    .action(async (opts: DeadLetterOptions) => {
      if (opts.redrive) {
        process.exitCode = await redrive(opts.api.replace(/\/$/, ''), opts.redrive === true ? [] : opts.redrive);
        return;
      }
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
