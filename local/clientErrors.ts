/**
 * Requests Node's HTTP parser rejects before any handler runs (a request line or headers over its
 * 16 KiB limit, malformed HTTP) get a bare status line by default. Clients and people reading
 * them deserve the body each local server uses for its other errors.
 */
import { STATUS_CODES, type Server } from 'node:http';

export type ErrorBody = (status: number, message: string) => { contentType: string; body: string };

const describe = (code: string | undefined): { status: number; message: string } => {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'request line and headers exceed 16384 bytes (Node\'s header limit); a long path or query is the usual cause' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, message: 'request not received in time' };
    default:
      return { status: 400, message: `malformed HTTP request${code ? ` (${code})` : ''}` };
  }
};

export const answerMalformedRequests = (server: Server, render: ErrorBody): void => {
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    // A client that went away (or a reply already under way) has no one to answer.
    if (error.code === 'ECONNRESET' || !socket.writable || (socket as { _httpMessage?: unknown })._httpMessage) {
      socket.destroy();
      return;
    }
    const { status, message } = describe(error.code);
    const { contentType, body } = render(status, message);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: ${contentType}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
};
