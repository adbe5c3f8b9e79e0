/**
 * S3 sequencers order the events of one key; the handlers skip an event whose sequencer is not
 * newer than the one they recorded. The local S3 must keep issuing larger ones across restarts even
 * when the clock stepped back in between (NTP, a VM resumed, a laptop's clock fixed by hand).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { request } from 'node:http';
import type { S3EventRecord } from 'aws-lambda';
import { normalizeSequencer } from '../../functions/shared/products/keys.js';

describe('local S3 sequencers', () => {
  const home = mkdtempSync(join(tmpdir(), 'weft-sequencers-'));
  mkdirSync(join(home, 'no-models'));
  afterAll(() => {
    vi.restoreAllMocks();
    rmSync(home, { recursive: true, force: true });
  });

  /** Unsigned, so no signature time (which follows the mocked clock too) is checked. */
  const put = (s3Url: string, path: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const url = new URL(s3Url);
      const req = request({ host: url.hostname, port: url.port, method: 'PUT', path, headers: { 'content-length': 1 } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end('x');
    });

  /** One stack run in a freshly loaded module graph, as a new process would have. */
  const uploadOnce = async (key: string): Promise<string> => {
    vi.resetModules();
    const { startStack } = await import('../../local/stack.js');
    const records: S3EventRecord[] = [];
    const ack = async () => ({ batchItemFailures: [] });
    const stack = await startStack({
      home,
      modelsDir: join(home, 'no-models'),
      quiet: true,
      handlers: { image: ack, text: ack, api: async () => ({ statusCode: 200, body: '{}' }) },
      onS3Record: (record) => records.push(record),
    });
    try {
      expect(await put(stack.urls.s3, `/${stack.bucket}/${key}`)).toBe(200);
      await stack.dispatcher.idle();
    } finally {
      await stack.stop();
    }
    const record = records.find((r) => r.s3.object.key === key);
    expect(record).toBeDefined();
    return record!.s3.object.sequencer;
  };

  it('grow across a restart after the clock stepped back an hour', async () => {
    const key = 'acme/p1/images/a.png';
    const before = await uploadOnce(key);
    const stepBack = 3_600_000;
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() - stepBack);
    const after = await uploadOnce(key);
    vi.restoreAllMocks();
    expect(normalizeSequencer(after) > normalizeSequencer(before), `${after} after ${before}`).toBe(true);
  });
});
