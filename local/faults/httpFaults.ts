/**
 * Injecting one drawn fault into an HTTP exchange, in the shape the real service answers, so the
 * AWS SDK on the other side parses, classifies and retries it exactly as it would in AWS.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultKind } from './faultSpec.js';
import type { FaultSwitch } from './FaultSwitch.js';

export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** SageMaker runtime: a 503 from the endpoint itself, and its throttling reply. */
export const sageMakerFault = (kind: '5xx' | 'throttle'): ErrorReply =>
  kind === '5xx'
    ? { status: 503, headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'ServiceUnavailable' }, body: JSON.stringify({ message: 'Service unavailable (injected by WEFT_FAULTS)' }) }
    : { status: 400, headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'ThrottlingException' }, body: JSON.stringify({ message: 'Rate exceeded (injected by WEFT_FAULTS)' }) };

/** DynamoDB (JSON 1.0 protocol): InternalServerError and ProvisionedThroughputExceededException. */
export const dynamoDbFault = (kind: '5xx' | 'throttle'): ErrorReply => {
  const type = kind === '5xx' ? 'InternalServerError' : 'ProvisionedThroughputExceededException';
  const message = kind === '5xx' ? 'Internal server error (injected by WEFT_FAULTS)' : 'The level of configured provisioned throughput for the table was exceeded (injected by WEFT_FAULTS)';
  return {
    status: kind === '5xx' ? 500 : 400,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': type },
    body: JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message }),
  };
};

const send = (res: ServerResponse, reply: ErrorReply): void => {
  res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) });
  res.end(reply.body);
};

/** Reads the request to its end first, so the client sees the reply rather than a broken pipe. */
const drained = (req: IncomingMessage): Promise<void> =>
  new Promise((resolve) => {
    if (req.readableEnded) return resolve();
    req.on('end', () => resolve());
    req.on('error', () => resolve());
    req.resume();
  });

/**
 * Answers `req` with the fault `kind` (5xx, throttle, timeout). `lost-reply` needs the real
 * answer first and is the caller's to do; it is refused here.
 */
export const injectFault = async (faults: FaultSwitch, kind: FaultKind, req: IncomingMessage, res: ServerResponse, reply: (kind: '5xx' | 'throttle') => ErrorReply): Promise<void> => {
  await drained(req);
  if (kind === 'timeout') return faults.holdThenDrop(req.socket);
  if (kind === 'lost-reply') throw new Error('lost-reply is injected after the real request ran');
  send(res, reply(kind));
};
