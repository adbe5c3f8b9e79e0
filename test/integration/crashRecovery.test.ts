/**
 * What survives the end of the process running the local stack: a whole stack in a child process
 * (real s3rver, dynalite, dispatcher; handlers that record every key they are handed) takes
 * uploads at concurrency while it is stopped with SIGTERM or killed with SIGKILL, then starts
 * again on the same WEFT_HOME. Every upload S3 acknowledged must reach a handler after the
 * restart; an upload interrupted mid-body must leave nothing half-written behind.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { recorded, slowPut, spawnRecordingStack, type StackProcess } from './support/stackProcess.js';

const BUCKET = 'weft-uploads';

/**
 * Uploads `count` small images at `concurrency`, calling `onAck` after each acknowledged one, until
 * `halted()`; returns the acknowledged keys. Failures (the server went away) are not acknowledged.
 */
const uploadUntil = async (s3: S3Client, prefix: string, count: number, concurrency: number, halted: () => boolean, onAck: (acked: number) => void): Promise<string[]> => {
  const acked: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count && !halted()) {
      const key = `${prefix}/p${next++}/images/a.png`;
      try {
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.from(key) }));
        acked.push(key);
        onAck(acked.length);
      } catch {
        // Not acknowledged: S3 promised nothing about it.
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return acked;
};

const listAll = async (s3: S3Client): Promise<{ key: string; size: number }[]> => {
  const out: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? -1 });
    token = page.NextContinuationToken;
  } while (token);
  return out;
};

const missingAfterRestart = async (recording: string, acked: string[]): Promise<string[]> => {
  const missing = (): string[] => {
    const seen = new Set(recorded(recording).map((r) => r.key));
    return acked.filter((key) => !seen.has(key));
  };
  await expect.poll(() => missing().length, { timeout: 20_000, interval: 100 }).toBe(0);
  return missing();
};

describe('local stack across a stop or a crash', () => {
  let root: string;
  const running = new Set<StackProcess>();

  const spawn = async (home: string, env: Record<string, string> = {}): Promise<StackProcess> => {
    const stack = await spawnRecordingStack({ home, recording: join(home, 'recorded.tsv'), ...env });
    running.add(stack);
    void stack.exited.then(() => running.delete(stack));
    return stack;
  };

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'weft-crash-'));
  });

  afterAll(async () => {
    for (const stack of running) stack.child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  it('SIGKILL during uploads: every acknowledged upload is delivered after the restart, nothing half-written is listed', async () => {
    const home = join(root, 'kill');
    const recording = join(home, 'recorded.tsv');
    const first = await spawn(home);
    // Killed once 100 uploads are acknowledged and two large ones are a quarter through their
    // bodies (64 pieces, 50 ms apart), so both are being written when the process dies.
    const big = [0, 1].map((n) => Buffer.alloc(1 << 20, 65 + n));
    const sent = [0, 0];
    let ackedSoFar = 0;
    let killed = false;
    const killWhenDue = (): void => {
      if (killed || ackedSoFar < 100 || sent.some((n) => n < 16)) return;
      killed = true;
      first.child.kill('SIGKILL');
    };
    const slow = big.map((body, n) =>
      slowPut(first.urls.s3, `/${BUCKET}/slow/p${n}/images/big.png`, body, 64, 50, (pieces) => {
        sent[n] = pieces;
        killWhenDue();
      }).catch(() => 0),
    );
    const acked = await uploadUntil(first.s3, 'kill', 2000, 12, () => killed, (n) => {
      ackedSoFar = n;
      killWhenDue();
    });
    expect(await Promise.all(slow)).toEqual([0, 0]);
    expect(await first.exited).toBeNull();
    expect(acked.length).toBeGreaterThanOrEqual(100);

    const second = await spawn(home);
    expect(await missingAfterRestart(recording, acked)).toEqual([]);
    const listed = await listAll(second.s3);
    expect(listed.filter((o) => o.size <= 0)).toEqual([]);
    // The interrupted uploads were never acknowledged: absent, or (never here) complete.
    for (const [n, body] of big.entries()) {
      const entry = listed.find((o) => o.key === `slow/p${n}/images/big.png`);
      if (entry) {
        const stored = Buffer.from(await (await second.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: entry.key }))).Body!.transformToByteArray());
        expect(createHash('md5').update(stored).digest('hex')).toBe(createHash('md5').update(body).digest('hex'));
      }
    }
    expect(listed.filter((o) => o.key.startsWith('kill/')).length).toBeGreaterThanOrEqual(acked.length);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 90_000);

  it('SIGTERM during uploads: the stop keeps every acknowledged upload', async () => {
    const home = join(root, 'term');
    const recording = join(home, 'recorded.tsv');
    const first = await spawn(home);
    // Uploads go on while the stack stops, as clients do not know it is stopping: those S3 still
    // answers are acknowledged and must be kept. Then the client goes away, as a CLI would.
    let exited = false;
    void first.exited.then(() => (exited = true));
    const acked = await uploadUntil(first.s3, 'term', 400, 16, () => exited, (n) => {
      if (n === 120) first.child.kill('SIGTERM');
    });
    first.s3.destroy();
    expect(await first.exited).toBe(0);
    const second = await spawn(home);
    expect(await missingAfterRestart(recording, acked)).toEqual([]);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 90_000);

  it('SIGKILL right after a redrive: the redriven message is delivered after the restart', async () => {
    const home = join(root, 'redrive');
    const first = await spawn(home, { FAIL_KEYS: 'redrive/p1/images/a.png' });
    await first.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'redrive/p1/images/a.png', Body: 'x' }));
    await expect
      .poll(async () => ((await (await fetch(`${first.urls.api}/local/dead-letters`)).json()) as { total: number }).total, { timeout: 15_000, interval: 100 })
      .toBe(1);
    const res = await fetch(`${first.urls.api}/local/dead-letters/redrive`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(200);
    first.child.kill('SIGKILL');
    await first.exited;

    // The restarted stack records to its own file: only its deliveries count.
    const afterRestart = join(home, 'recorded-after-restart.tsv');
    const second = await spawn(home, { recording: afterRestart });
    await expect.poll(() => recorded(afterRestart).map((r) => r.key), { timeout: 15_000, interval: 100 }).toContain('redrive/p1/images/a.png');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 90_000);
});
