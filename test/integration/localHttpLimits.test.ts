/**
 * Requests over a local server's limits get an answer a client can read: a body over the limit a
 * 413 with a JSON message (not a dropped connection), a request line or headers over Node's limit
 * a 431 with a body (JSON from the API and model server, S3's XML error from the local S3).
 */
import { connect } from 'node:net';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningStack } from '../../local/stack.js';
import { startBareStack } from './support/bareStack.js';

interface Reply {
  status: number;
  contentType: string;
  body: string;
}

/** A request whose Content-Length says `declared`, of which `sent` bytes are written. */
const declaredBody = (base: string, path: string, declared: number, sent: number): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = request({ host: url.hostname, port: url.port, method: 'POST', path, agent: false, headers: { 'content-length': declared, 'content-type': 'application/octet-stream' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.write(Buffer.alloc(sent, 1));
  });

/** A GET with a path longer than Node's header limit (16 KiB), over a raw socket. */
const longPath = (base: string): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const url = new URL(base);
    const socket = connect(Number(url.port), url.hostname);
    let raw = '';
    socket.on('data', (d: Buffer) => (raw += d.toString()));
    socket.on('end', () => {
      const [head = '', body = ''] = raw.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0);
      resolve({ status, contentType: /content-type: ([^\r\n]+)/i.exec(head)?.[1] ?? '', body });
    });
    socket.on('error', reject);
    socket.write(`GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
  });

describe('local servers at their request limits', () => {
  let stack: RunningStack;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ stack, stop } = await startBareStack('limits'));
  });

  afterAll(async () => {
    await stop?.();
  });

  it('API: a body over 10 MiB gets 413 with a JSON message', async () => {
    const res = await fetch(`${stack.urls.api}/products/acme/p1`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: Buffer.alloc(10 * 1024 * 1024 + 1, 32) });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/json/);
    expect(((await res.json()) as { message: string }).message).toMatch(/10485760 bytes/);
  });

  it('API: a declared length over the limit gets 413 before the body is read', async () => {
    const reply = await declaredBody(stack.urls.api, '/products/acme/p1', 50 * 1024 * 1024, 1024);
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body)).toMatchObject({ message: expect.stringMatching(/10485760 bytes/) });
  });

  it('model server: a declared length over its limit gets 413 with a JSON error', async () => {
    const reply = await declaredBody(stack.urls.models, '/v2/models/any/infer', 512 * 1024 * 1024, 1024);
    expect(reply.status).toBe(413);
    expect(reply.contentType).toMatch(/json/);
    expect(JSON.parse(reply.body)).toMatchObject({ error: expect.stringMatching(/bytes/) });
  });

  it('a path over the header limit gets 431 with a body from every local server', async () => {
    // Each in the error shape of the service it stands in for.
    for (const [base, field] of [[stack.urls.api, 'message'], [stack.urls.models, 'error']] as const) {
      const reply = await longPath(base);
      expect(reply.status, base).toBe(431);
      expect(reply.contentType, base).toMatch(/json/);
      expect(JSON.parse(reply.body), base).toMatchObject({ [field]: expect.stringMatching(/header limit/i) });
    }
    const s3 = await longPath(stack.urls.s3);
    expect(s3.status).toBe(431);
    expect(s3.contentType).toMatch(/xml/);
    expect(s3.body).toMatch(/<Code>RequestHeaderSectionTooLarge<\/Code>/);
  });
});
