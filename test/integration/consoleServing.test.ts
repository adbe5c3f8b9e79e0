/**
 * What the local API server serves besides the API: the built console with its security headers
 * and configuration, and the local S3's objects for its pictures — as pictures only when their
 * bytes are a picture, whatever the uploader claimed.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../console/build.js';
import { startBareStack } from './support/bareStack.js';

let bare: Awaited<ReturnType<typeof startBareStack>>;

beforeAll(async () => {
  await buildConsole({ log: () => undefined });
  bare = await startBareStack('console-serving');
});

afterAll(async () => {
  await bare?.stop();
});

describe('the console from the local API server', () => {
  it('serves the page, its assets and its configuration with a strict content security policy', async () => {
    const page = await fetch(`${bare.stack.urls.api}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const html = await page.text();
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${bare.stack.urls.api}/${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(await (await fetch(`${bare.stack.urls.api}/console-config.json`)).json()).toEqual({ apiBase: '' });
  });

  it('serves objects as pictures only when their bytes are one', async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#c00' } }).png().toBuffer();
    const put = (key: string, body: Buffer | string, contentType: string) => bare.stack.s3.send(new PutObjectCommand({ Bucket: bare.stack.bucket, Key: key, Body: body, ContentType: contentType }));
    await put('acme/p 1/images/front.png', png, 'application/octet-stream');
    await put('acme/p2/images/evil.jpg', '<html><script>alert(1)</script></html>', 'text/html');

    const image = await fetch(`${bare.stack.urls.api}/local/objects/acme/p%201/images/front.png`);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(image.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await image.arrayBuffer()).equals(png)).toBe(true);

    const html = await fetch(`${bare.stack.urls.api}/local/objects/acme/p2/images/evil.jpg`);
    expect(html.headers.get('content-type')).toBe('application/octet-stream');
    expect(html.headers.get('content-disposition')).toBe('attachment');
    expect(html.headers.get('content-security-policy')).toContain('sandbox');

    const missing = await fetch(`${bare.stack.urls.api}/local/objects/acme/none.png`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ message: 'no object acme/none.png' });
  });
});
