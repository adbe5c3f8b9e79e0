/**
 * Dead letters: messages the dispatcher gave up on after the maximum number of receives, each kept
 * as one JSON file under $WEFT_HOME/dead-letters so they survive restarts and can be inspected
 * with `weft dead-letters` or GET /local/dead-letters while the stack runs.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { decodeS3Key } from '../../functions/shared/layout.js';

export interface DeliveryAttempt {
  at: string;
  error: string;
}

export interface DeadLetter {
  messageId: string;
  queue: string;
  /** The SQS message body: the S3 notification JSON. */
  body: string;
  /** Decoded object keys named by the notification, for people reading the list. */
  keys: string[];
  receiveCount: number;
  sentAt: string;
  deadLetteredAt: string;
  /** The error of the last attempt. */
  error: string;
  attempts: DeliveryAttempt[];
}

export const keysOfNotification = (body: string): string[] => {
  try {
    const parsed = JSON.parse(body) as { Records?: { s3?: { object?: { key?: string } } }[] };
    return (parsed.Records ?? []).flatMap((r) => (r.s3?.object?.key === undefined ? [] : [decodeS3Key(r.s3.object.key)]));
  } catch {
    return [];
  }
};

const FILE_SUFFIX = '.json';

export class DeadLetterStore {
  constructor(readonly directory: string) {
    mkdirSync(directory, { recursive: true });
  }

  add(letter: DeadLetter): void {
    const file = join(this.directory, `${letter.messageId}${FILE_SUFFIX}`);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(letter, null, 2)}\n`);
    renameSync(tmp, file);
  }

  /** Newest first. */
  list(): DeadLetter[] {
    let files: string[];
    try {
      files = readdirSync(this.directory).filter((f) => f.endsWith(FILE_SUFFIX));
    } catch {
      return [];
    }
    const letters: DeadLetter[] = [];
    for (const file of files) {
      try {
        letters.push(JSON.parse(readFileSync(join(this.directory, file), 'utf8')) as DeadLetter);
      } catch {
        // A half-written file from a crash; the rename above makes this rare. Skip rather than fail the list.
      }
    }
    return letters.sort((a, b) => b.deadLetteredAt.localeCompare(a.deadLetteredAt));
  }

  has(messageId: string): boolean {
    return /^[A-Za-z0-9-]+$/.test(messageId) && existsSync(join(this.directory, `${messageId}${FILE_SUFFIX}`));
  }

  remove(messageId: string): boolean {
    if (!/^[A-Za-z0-9-]+$/.test(messageId)) return false;
    const file = join(this.directory, `${messageId}${FILE_SUFFIX}`);
    try {
      rmSync(file);
      return true;
    } catch {
      return false;
    }
  }
}
