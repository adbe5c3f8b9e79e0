import type { IncomingMessage } from 'node:http';

/**
 * How much of an over-limit body is read and thrown away so the client, still sending, gets to
 * read the 413 instead of a reset connection; past this the connection is cut.
 */
const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * A request body read whole, up to `maxBytes`. Past that (or when Content-Length already says so)
 * the promise rejects with the caller's own error, for the caller to answer 413 in its server's
 * error shape; the rest of the body is drained meanwhile so that answer reaches the client.
 */
export const readBody = (req: IncomingMessage, maxBytes: number, tooLarge: () => Error): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const refuse = (): void => {
      req.removeAllListeners('data');
      let discarded = 0;
      req.on('data', (chunk: Buffer) => {
        discarded += chunk.length;
        if (discarded > DISCARD_LIMIT_BYTES) req.destroy();
      });
      reject(tooLarge());
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      refuse();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        refuse();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
