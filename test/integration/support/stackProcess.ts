/** Runs test/integration/support/recordingStack.ts as a child process and talks to it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import type { ServiceName } from '../../../local/stack.js';

const ROOT = resolve(import.meta.dirname, '../../..');

export interface StackProcess {
  child: ChildProcess;
  urls: Record<ServiceName, string>;
  /** A client that does not retry, so an upload counts as acknowledged only when S3 answered it. */
  s3: S3Client;
  exited: Promise<number | null>;
  stderr: () => string;
}

export const spawnRecordingStack = async (env: { home: string; recording: string } & Record<string, string>): Promise<StackProcess> => {
  let out = '';
  let err = '';
  const { home, recording, ...rest } = env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/integration/support/recordingStack.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...rest, WEFT_HOME: home, RECORDING_FILE: recording, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const urls = await new Promise<Record<ServiceName, string>>((resolveUrls, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = /^READY (.*)$/m.exec(out);
      if (line) resolveUrls(JSON.parse(line[1]!) as Record<ServiceName, string>);
    });
    void exited.then((code) => reject(new Error(`stack exited ${code} before it was ready: ${err}`)));
  });
  const s3 = new S3Client({ endpoint: urls.s3, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  return { child, urls, s3, exited, stderr: () => err };
};

/** `eventName key eTag` lines the handlers of every run of this home recorded. */
export const recorded = (file: string): { eventName: string; key: string; eTag: string }[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [eventName = '', key = '', eTag = ''] = line.split('\t');
          return { eventName, key, eTag };
        })
    : [];

/**
 * An unsigned PUT whose body trickles in (`chunks` pieces, `pauseMs` apart), so a test can act
 * while the server is in the middle of writing it. Resolves with the status, or rejects if the
 * connection dies first. `onChunk` hears how many pieces have been sent.
 */
export const slowPut = (s3Url: string, path: string, body: Buffer, chunks: number, pauseMs: number, onChunk: (sent: number) => void = () => undefined): Promise<number> => {
  const url = new URL(s3Url);
  return new Promise((resolvePut, reject) => {
    const req = request({ host: url.hostname, port: url.port, method: 'PUT', path, agent: false, headers: { 'content-length': body.length, 'content-type': 'application/octet-stream' } }, (res) => {
      res.resume();
      res.on('end', () => resolvePut(res.statusCode ?? 0));
    });
    req.on('error', reject);
    const size = Math.ceil(body.length / chunks);
    const pieces = Array.from({ length: chunks }, (_, i) => body.subarray(i * size, (i + 1) * size));
    const source = new Readable({
      read() {
        const next = pieces.shift();
        if (next === undefined) this.push(null);
        else
          setTimeout(() => {
            this.push(next);
            onChunk(chunks - pieces.length);
          }, pauseMs);
      },
    });
    source.pipe(req);
  });
};
