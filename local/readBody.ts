import type { IncomingMessage } from 'node:http';

/**
 * A request body read whole, up to `maxBytes`: past that the request is dropped and the promise
 * rejects with the caller's own error (each server answers 413 in its own way).
 */
export const readBody = (req: IncomingMessage, maxBytes: number, tooLarge: () => Error): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(tooLarge());
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
