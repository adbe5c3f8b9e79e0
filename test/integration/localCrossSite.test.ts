/**
 * A page open in the user's browser must not be able to drive the local stack: requests whose
 * Host is not a local name (DNS rebinding) or whose Origin is another site are refused by the API,
 * the local S3 and the model server, and state-changing /local routes need a JSON body (which a
 * cross-site form cannot send). The AWS SDK, the AWS CLI and the weft CLI, which send no Origin,
 * keep working.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3EventRecord } from 'aws-lambda';
import { decodeS3Key } from '../../functions/shared/layout.js';
import type { RunningStack } from '../../local/stack.js';
import { startBareStack } from './support/bareStack.js';

interface Reply {
  status: number;
  body: string;
}

const send = (base: string, opts: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const url = new URL(base);
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    const req = request(
      { host: url.hostname, port: url.port, method: opts.method ?? 'GET', path: opts.path, agent: false, headers: { ...(body ? { 'content-length': body.length } : {}), ...opts.headers } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });

/** What a cross-site HTML form posting a file to the local S3 sends. */
const formUpload = (key: string): { body: string; contentType: string } => {
  const boundary = '----weftFormBoundary';
  const body = [
    `--${boundary}`,
    'Content-Disposition: form-data; name="key"',
    '',
    key,
    `--${boundary}`,
    'Content-Disposition: form-data; name="file"; filename="a.png"',
    'Content-Type: image/png',
    '',
    'not really a png',
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
};

const hasAwsCli = await promisify(execFile)('aws', ['--version']).then(
  () => true,
  () => false,
);

describe('cross-site requests to the local stack', () => {
  let home: string;
  let stack: RunningStack;
  let stop: () => Promise<void>;
  const records: S3EventRecord[] = [];
  const apiCalls: string[] = [];

  beforeAll(async () => {
    ({ stack, home, stop } = await startBareStack('cross-site', {
      api: async (event) => {
        apiCalls.push(`${event.requestContext.http.method} ${event.rawPath}`);
        return { statusCode: 200, body: '{"ok":true}' };
      },
      onS3Record: (record) => records.push(record),
    }));
  });

  afterAll(async () => {
    await stop?.();
  });

  const port = (base: string): string => new URL(base).port;
  const keysNotified = (): string[] => records.map((r) => decodeS3Key(r.s3.object.key));

  it('API: refuses a foreign Host (DNS rebinding) and a foreign Origin, before the handler', async () => {
    const calls = apiCalls.length;
    const rebinding = await send(stack.urls.api, { path: '/products/acme/p1', headers: { host: `attacker.example:${port(stack.urls.api)}` } });
    expect(rebinding.status).toBe(403);
    expect(JSON.parse(rebinding.body)).toMatchObject({ message: expect.stringMatching(/attacker\.example/) });
    const foreign = await send(stack.urls.api, { method: 'PUT', path: '/products/acme/p1/corrections/color', headers: { origin: 'https://attacker.example', 'content-type': 'application/json' }, body: '{"value":"red"}' });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body)).toMatchObject({ message: expect.stringMatching(/origin/i) });
    const opaque = await send(stack.urls.api, { method: 'POST', path: '/local/dead-letters/redrive', headers: { origin: 'null', 'content-type': 'application/json' }, body: '{}' });
    expect(opaque.status).toBe(403);
    const noCors = await send(stack.urls.api, { path: '/products/acme/p1', headers: { 'sec-fetch-site': 'cross-site' } });
    expect(noCors.status).toBe(403);
    expect(apiCalls.length).toBe(calls);
  });

  it('API: local pages and tools still get through', async () => {
    const apiPort = port(stack.urls.api);
    const local: Record<string, string>[] = [
      {},
      { host: `localhost:${apiPort}` },
      { host: `[::1]:${apiPort}` },
      { origin: `http://localhost:${apiPort}` },
      { origin: 'http://127.0.0.1:5173', 'sec-fetch-site': 'cross-site' },
      // Following a link from another site: the user sees the answer, the linking page does not.
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' },
    ];
    for (const headers of local) {
      expect((await send(stack.urls.api, { path: '/products/acme/p1', headers })).status, JSON.stringify(headers)).toBe(200);
    }
    expect((await fetch(`${stack.urls.api}/local/queues`)).status).toBe(200);
  });

  it('state-changing /local routes need a JSON request, which a form cannot send', async () => {
    const forms: Record<string, string>[] = [{}, { 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, { 'content-type': 'multipart/form-data; boundary=x' }];
    for (const headers of forms) {
      const reply = await send(stack.urls.api, { method: 'POST', path: '/local/dead-letters/redrive', headers, body: 'a=b' });
      expect(reply.status, JSON.stringify(headers)).toBe(415);
      expect(JSON.parse(reply.body)).toMatchObject({ message: expect.stringMatching(/application\/json/) });
    }
    const ok = await fetch(`${stack.urls.api}/local/dead-letters/redrive`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ redriven: [] });
  });

  it('local S3: a cross-site form upload is refused and nothing is stored or ingested', async () => {
    const key = 'acme/forged/images/a.png';
    const form = formUpload(key);
    const reply = await send(stack.urls.s3, { method: 'POST', path: `/${stack.bucket}`, headers: { 'content-type': form.contentType, origin: 'https://attacker.example' }, body: form.body });
    expect(reply.status).toBe(403);
    expect(reply.body).toMatch(/<Code>AccessDenied<\/Code>/);
    const rebinding = await send(stack.urls.s3, { method: 'PUT', path: `/${stack.bucket}/acme/rebound/images/a.png`, headers: { host: `attacker.example:${port(stack.urls.s3)}` }, body: 'x' });
    expect(rebinding.status).toBe(403);
    await stack.dispatcher.idle();
    expect(keysNotified()).not.toContain(key);
    expect(keysNotified()).not.toContain('acme/rebound/images/a.png');
    await expect(stack.s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }))).rejects.toThrow();
  });

  it('local S3: the AWS SDK still works', async () => {
    await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'acme/sdk/images/a.png', Body: 'x' }));
    const got = await stack.s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'acme/sdk/images/a.png' }));
    expect(await got.Body!.transformToString()).toBe('x');
  });

  it.skipIf(!hasAwsCli)('local S3: `aws --endpoint-url http://localhost:PORT s3 cp` still works', async () => {
    const file = join(home, 'front.png');
    writeFileSync(file, 'cli upload');
    const env = { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_DEFAULT_REGION: 'us-east-1', AWS_REGION: 'us-east-1' };
    await promisify(execFile)('aws', ['--endpoint-url', `http://localhost:${port(stack.urls.s3)}`, 's3', 'cp', file, `s3://${stack.bucket}/acme/cli/images/front.png`], { env, timeout: 30_000 });
    const got = await stack.s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'acme/cli/images/front.png' }));
    expect(await got.Body!.transformToString()).toBe('cli upload');
    await stack.dispatcher.idle();
    expect(keysNotified()).toContain('acme/cli/images/front.png');
  });

  it('model server: refuses a foreign Host or Origin, serves local callers', async () => {
    const modelsPort = port(stack.urls.models);
    expect((await send(stack.urls.models, { path: '/v2/health/ready', headers: { host: `attacker.example:${modelsPort}` } })).status).toBe(403);
    const foreign = await send(stack.urls.models, { method: 'POST', path: '/endpoints/weft-image/invocations', headers: { origin: 'https://attacker.example', 'content-type': 'application/json' }, body: '{}' });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body)).toMatchObject({ error: expect.stringMatching(/origin/i) });
    expect((await send(stack.urls.models, { path: '/v2/health/ready' })).status).toBe(200);
  });
});
