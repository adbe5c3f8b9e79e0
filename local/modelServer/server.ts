/**
 * Local stand-in for the SageMaker endpoints running Triton: the same ONNX graphs, served on
 *   POST /endpoints/{name}/invocations   what SageMakerRuntimeClient sends (only `endpoint` overridden)
 *   GET  /ping                           SageMaker's container health check
 *   GET  /v2, /v2/health/{live,ready}, /v2/models/{name}[/versions/{v}][/ready|/stats]
 *   POST /v2/models/{name}[/versions/{v}]/infer   KServe v2, JSON or binary tensors
 * Errors on the SageMaker path take the shape the SDK parses (ModelError with the container's
 * status, ValidationError for an unknown endpoint), on the v2 paths `{"error": "..."}`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  INFERENCE_HEADER_LENGTH_HEADER,
  JSON_CONTENT_TYPE,
  TritonProtocolError,
  decodeInferRequest,
  encodeInferResponse,
} from '../../functions/shared/inference/triton.js';
import type { ModelOptions, OnnxModel } from './OnnxModel.js';
import { InvalidInferenceRequest } from './validateInputs.js';
import { loadModels } from './modelRepository.js';
import { answerMalformedRequests } from '../clientErrors.js';
import { crossSiteRefusal } from '../crossSiteGuard.js';
import { close, listen, urlOf } from '../listen.js';
import { readBody } from '../readBody.js';
import type { FaultSwitch } from '../faults/FaultSwitch.js';
import { injectFault, sageMakerFault } from '../faults/httpFaults.js';

const MAX_BODY_BYTES = 256 * 1024 * 1024;
const ACCOUNT_ID = '000000000000';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const readRequest = (req: IncomingMessage): Promise<Uint8Array> =>
  readBody(req, MAX_BODY_BYTES, () => new HttpError(413, `request body exceeds ${MAX_BODY_BYTES} bytes (the local model server's limit; SageMaker's is 6 MB)`));

const sendJson = (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void => {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': JSON_CONTENT_TYPE, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
};

const modelMetadata = (model: OnnxModel) => {
  const m = model.manifest;
  return {
    name: m.name,
    versions: [m.version],
    platform: 'onnxruntime_onnx',
    inputs: m.inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
    outputs: m.outputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
    // Not part of KServe v2: what the outputs mean, so a person can read the probabilities.
    parameters: { modality: m.modality, tasks: m.tasks },
  };
};

/** Decodes, validates and runs one request; returns the encoded reply. */
const infer = async (model: OnnxModel, req: IncomingMessage, body: Uint8Array) => {
  const header = req.headers[INFERENCE_HEADER_LENGTH_HEADER];
  const request = decodeInferRequest(body, req.headers['content-type'], Array.isArray(header) ? header[0] : header);
  model.checkOutputs(request.outputs.map((o) => o.name));
  const outputs = await model.infer(request.inputs);
  const wanted = request.outputs.length > 0 ? request.outputs.map((o) => outputs.find((t) => t.name === o.name)!) : outputs;
  const binary = request.outputs.length > 0 ? request.outputs.some((o) => o.binary) : request.binaryOutputDefault;
  return encodeInferResponse({ name: model.manifest.name, version: model.manifest.version }, wanted, binary);
};

const isClientError = (error: unknown): boolean => error instanceof TritonProtocolError || error instanceof InvalidInferenceRequest;

/** What a fault switch may fail: the SageMaker invocations the pipeline makes, in SageMaker's error shapes. */
const isInvocation = (req: IncomingMessage): boolean =>
  req.method === 'POST' && /^\/endpoints\/[^/]+\/invocations$/.test(new URL(req.url ?? '/', 'http://localhost').pathname);

export const createModelServer = (models: Map<string, OnnxModel>, log: (message: string) => void = () => undefined, faults?: FaultSwitch): Server => {
  const server = createServer((req, res) => {
    const refusal = crossSiteRefusal(req);
    if (refusal) return sendJson(res, 403, { error: refusal }, { connection: 'close', 'x-amzn-errortype': 'AccessDeniedException' });
    const fault = faults && isInvocation(req) ? faults.draw('models') : undefined;
    // A body declared over the limit is refused whatever the route, before any model is looked up.
    const oversized = Number(req.headers['content-length']) > MAX_BODY_BYTES;
    const handled = oversized ? readRequest(req).then(() => undefined) : fault && faults ? injectFault(faults, fault, req, res, sageMakerFault) : route(models, req, res);
    void handled.catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      log(`[models] ${req.method} ${req.url}: ${(error as Error).message}`);
      if (!res.headersSent) sendJson(res, status, { error: (error as Error).message }, status === 413 ? { connection: 'close' } : {});
      else res.destroy();
    });
  });
  answerMalformedRequests(server, (status, message) => ({ contentType: JSON_CONTENT_TYPE, body: JSON.stringify({ error: message }) }));
  return server;
};

const route = async (models: Map<string, OnnxModel>, req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const method = req.method ?? 'GET';

  const invocation = /^\/endpoints\/([^/]+)\/invocations$/.exec(path);
  if (invocation && method === 'POST') return invokeEndpoint(models, decodeURIComponent(invocation[1]!), req, res);

  if (method === 'GET' && path === '/ping') return sendJson(res, 200, { status: 'Healthy' });
  if (method === 'GET' && path === '/v2') {
    return sendJson(res, 200, { name: 'weft-local-model-server', version: '1', extensions: ['binary_tensor_data', 'model_repository'] });
  }
  if (method === 'GET' && path === '/v2/health/live') return sendJson(res, 200, { live: true });
  if (method === 'GET' && path === '/v2/health/ready') return sendJson(res, 200, { ready: true });

  const v2 = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer|\/stats)?$/.exec(path);
  if (!v2) return sendJson(res, 404, { error: `no route for ${method} ${path}` });
  const name = decodeURIComponent(v2[1]!);
  const model = models.get(name);
  if (!model) return sendJson(res, 404, { error: `Request for unknown model: '${name}' is not found (models: ${[...models.keys()].join(', ')})` });
  const version = v2[2] === undefined ? undefined : decodeURIComponent(v2[2]);
  if (version !== undefined && version !== model.manifest.version && version !== '1') {
    return sendJson(res, 404, { error: `Request for unknown model: '${name}' version ${version} is not found (version ${model.manifest.version})` });
  }
  const action = v2[3];
  if (method === 'GET' && action === undefined) return sendJson(res, 200, modelMetadata(model));
  if (method === 'GET' && action === '/ready') return sendJson(res, 200, { name, ready: true });
  if (method === 'GET' && action === '/stats') {
    const { inferenceCount, executionCount } = model.stats;
    return sendJson(res, 200, { model_stats: [{ name, version: model.manifest.version, inference_count: inferenceCount, execution_count: executionCount }] });
  }
  if (method === 'POST' && action === '/infer') {
    const body = await readRequest(req);
    try {
      const reply = await infer(model, req, body);
      const headers: Record<string, string | number> = { 'content-length': reply.body.length };
      if (reply.headerLength === undefined) headers['content-type'] = reply.contentType;
      else {
        // Triton's own HTTP framing of binary replies.
        headers['content-type'] = 'application/octet-stream';
        headers[INFERENCE_HEADER_LENGTH_HEADER] = reply.headerLength;
      }
      res.writeHead(200, headers);
      res.end(reply.body);
    } catch (error) {
      if (!isClientError(error)) throw error;
      sendJson(res, 400, { error: (error as Error).message });
    }
    return;
  }
  return sendJson(res, 405, { error: `${method} not allowed on ${path}` });
};

/** SageMaker forwards the container's reply; failures become the errors the SDK raises. */
const invokeEndpoint = async (models: Map<string, OnnxModel>, name: string, req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const model = models.get(name);
  if (!model) {
    return sendJson(res, 400, { message: `Endpoint ${name} of account ${ACCOUNT_ID} not found.` }, { 'x-amzn-errortype': 'ValidationError' });
  }
  const body = await readRequest(req);
  try {
    const reply = await infer(model, req, body);
    res.writeHead(200, {
      'content-type': reply.contentType,
      'content-length': reply.body.length,
      'x-amzn-invoked-production-variant': 'AllTraffic',
    });
    res.end(reply.body);
  } catch (error) {
    const status = isClientError(error) ? 400 : 500;
    const original = JSON.stringify({ error: (error as Error).message });
    const kind = status < 500 ? 'client' : 'server';
    sendJson(
      res,
      424,
      {
        message: `Received ${kind} error (${status}) from primary with message "${original}". See https://console.aws.amazon.com/cloudwatch/home#logEventViewer:group=/aws/sagemaker/Endpoints/${name} in account ${ACCOUNT_ID} for more information.`,
        OriginalStatusCode: status,
        OriginalMessage: original,
        LogStreamArn: `arn:aws:logs:us-east-1:${ACCOUNT_ID}:log-group:/aws/sagemaker/Endpoints/${name}`,
      },
      { 'x-amzn-errortype': 'ModelError' },
    );
  }
};

export interface RunningModelServer {
  url: string;
  /** Endpoint (manifest) names. */
  models: string[];
  /** Endpoint name serving each modality. */
  endpoints: Partial<Record<'image' | 'text' | 'detector', string>>;
  stop(): Promise<void>;
}

export const startModelServer = async (
  opts: ModelOptions & { modelsDir: string; port: number; log?: (message: string) => void; faults?: FaultSwitch },
): Promise<RunningModelServer> => {
  const models = await loadModels(opts.modelsDir, { threads: opts.threads, batchDelayMs: opts.batchDelayMs });
  const server = createModelServer(models, opts.log, opts.faults);
  const address = await listen(server, { service: 'model server', port: opts.port, envVar: 'WEFT_MODELS_PORT' });
  return {
    url: urlOf(address),
    models: [...models.keys()],
    endpoints: Object.fromEntries([...models.values()].map((m) => [m.manifest.modality, m.name])),
    stop: async () => {
      opts.faults?.dropHeld();
      await close(server);
      await Promise.all([...models.values()].map((m) => m.close()));
    },
  };
};
