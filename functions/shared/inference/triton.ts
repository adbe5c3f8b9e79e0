/**
 * KServe v2 / Triton inference bodies, with Triton's binary tensor data extension.
 *
 * A binary body is a JSON header followed by raw little-endian, row-major tensor bytes in the
 * order the header lists them; each binary tensor carries `parameters.binary_data_size`. The
 * header length travels out of band: plain Triton uses the `Inference-Header-Content-Length`
 * HTTP header, SageMaker (which only forwards the content type) uses
 * `application/vnd.sagemaker-triton.binary+json;json-header-size=N`. Plain JSON bodies (tensor
 * values in `data` arrays) are decoded too, so ordinary v2 clients work against the model server.
 *
 * Pure functions over bytes: no HTTP, no SDK, so the model server and the endpoint clients share
 * exactly one implementation of the wire format.
 */
import type { Datatype } from '../manifest.js';

export type TensorData = Uint8Array | Float32Array | BigInt64Array | Int32Array;

export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** UINT8 and BOOL (0/1): Uint8Array; INT32: Int32Array; INT64: BigInt64Array; FP32 and FP16: Float32Array. */
  data: TensorData;
}

export const TRITON_BINARY_CONTENT_TYPE = 'application/vnd.sagemaker-triton.binary+json';
export const JSON_CONTENT_TYPE = 'application/json';
/** Header Triton's own HTTP endpoint uses for the JSON length when a body carries binary tensors. */
export const INFERENCE_HEADER_LENGTH_HEADER = 'inference-header-content-length';

/** A body that does not follow the v2 protocol; the model server answers it with HTTP 400. */
export class TritonProtocolError extends Error {
  override readonly name = 'TritonProtocolError';
}

const ELEMENT_BYTES: Record<Datatype, number> = { UINT8: 1, BOOL: 1, INT32: 4, INT64: 8, FP32: 4, FP16: 2 };
const DATATYPES = new Set(Object.keys(ELEMENT_BYTES));

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export const elementCount = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);

// ---------------------------------------------------------------------------------------------
// typed data <-> little-endian bytes

const float32ToHalf = (value: number): number => {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → signed zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    // round half to even
    const rest = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half += 1;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half += 1; // may carry into the exponent, which is correct
  return half;
};

const halfToFloat32 = (h: number): number => {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
};

const ARRAY_TYPES = { UINT8: Uint8Array, BOOL: Uint8Array, INT32: Int32Array, INT64: BigInt64Array, FP32: Float32Array, FP16: Float32Array } as const;

const checkTensor = (tensor: Tensor): void => {
  if (!DATATYPES.has(tensor.datatype)) throw new TritonProtocolError(`tensor ${tensor.name}: unsupported datatype ${tensor.datatype}`);
  if (!tensor.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new TritonProtocolError(`tensor ${tensor.name}: shape [${tensor.shape.join(', ')}] must be non-negative integers`);
  }
  const want = ARRAY_TYPES[tensor.datatype];
  if (!(tensor.data instanceof want)) {
    throw new TritonProtocolError(`tensor ${tensor.name}: ${tensor.datatype} data must be a ${want.name}, got ${tensor.data.constructor.name}`);
  }
  const count = elementCount(tensor.shape);
  if (tensor.data.length !== count) {
    throw new TritonProtocolError(`tensor ${tensor.name}: shape [${tensor.shape.join(', ')}] needs ${count} elements, data has ${tensor.data.length}`);
  }
};

const toBytes = (tensor: Tensor): Uint8Array => {
  const { data, datatype } = tensor;
  if (datatype === 'FP16') {
    const out = new Uint8Array(data.length * 2);
    const view = new DataView(out.buffer);
    const src = data as Float32Array;
    for (let i = 0; i < src.length; i++) view.setUint16(i * 2, float32ToHalf(src[i]!), true);
    return out;
  }
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (hostIsLittleEndian || ELEMENT_BYTES[datatype] === 1) return bytes;
  return swapBytes(bytes, ELEMENT_BYTES[datatype]);
};

const swapBytes = (bytes: Uint8Array, width: number): Uint8Array => {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += width) for (let j = 0; j < width; j++) out[i + j] = bytes[i + width - 1 - j]!;
  return out;
};

const fromBytes = (bytes: Uint8Array, datatype: Datatype, name: string): TensorData => {
  if (datatype === 'UINT8' || datatype === 'BOOL') {
    const copy = new Uint8Array(bytes);
    if (datatype === 'BOOL' && copy.some((b) => b > 1)) throw new TritonProtocolError(`tensor ${name}: BOOL bytes must be 0 or 1`);
    return copy;
  }
  if (datatype === 'FP16') {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new Float32Array(bytes.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = halfToFloat32(view.getUint16(i * 2, true));
    return out;
  }
  // Copy into a fresh, aligned buffer: the tensor's offset in the body is arbitrary. (Not
  // bytes.slice(): on a Buffer that is a view, not a copy.)
  const aligned = hostIsLittleEndian ? new Uint8Array(bytes) : swapBytes(bytes, ELEMENT_BYTES[datatype]);
  if (datatype === 'INT32') return new Int32Array(aligned.buffer, 0, aligned.length / 4);
  if (datatype === 'INT64') return new BigInt64Array(aligned.buffer, 0, aligned.length / 8);
  return new Float32Array(aligned.buffer, 0, aligned.length / 4);
};

// ---------------------------------------------------------------------------------------------
// JSON data arrays

const flatten = (value: unknown, out: unknown[]): void => {
  if (Array.isArray(value)) for (const v of value) flatten(v, out);
  else out.push(value);
};

const fromJsonData = (raw: unknown, datatype: Datatype, shape: number[], name: string): TensorData => {
  if (!Array.isArray(raw)) throw new TritonProtocolError(`tensor ${name}: "data" must be an array`);
  const flat: unknown[] = [];
  flatten(raw, flat);
  const count = elementCount(shape);
  if (flat.length !== count) {
    throw new TritonProtocolError(`tensor ${name}: shape [${shape.join(', ')}] needs ${count} elements, "data" has ${flat.length}`);
  }
  const bad = (v: unknown): never => {
    throw new TritonProtocolError(`tensor ${name}: ${JSON.stringify(v)} is not a valid ${datatype} value`);
  };
  switch (datatype) {
    case 'BOOL':
      return Uint8Array.from(flat, (v) => (typeof v === 'boolean' ? (v ? 1 : 0) : bad(v)));
    case 'UINT8':
      return Uint8Array.from(flat, (v) => (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 255 ? (v as number) : bad(v)));
    case 'INT32':
      return Int32Array.from(flat, (v) => (Number.isInteger(v) && Math.abs(v as number) <= 2 ** 31 ? (v as number) : bad(v)));
    case 'INT64':
      return BigInt64Array.from(flat, (v) => (Number.isInteger(v) ? BigInt(v as number) : bad(v)));
    case 'FP32':
    case 'FP16':
      return Float32Array.from(flat, (v) => (typeof v === 'number' ? v : bad(v)));
  }
};

const toJsonData = (tensor: Tensor): (number | boolean)[] => {
  if (tensor.datatype === 'BOOL') return Array.from(tensor.data as Uint8Array, (v) => v !== 0);
  if (tensor.datatype === 'INT64') return Array.from(tensor.data as BigInt64Array, (v) => Number(v));
  if (tensor.datatype === 'FP16') return Array.from(tensor.data as Float32Array, (v) => halfToFloat32(float32ToHalf(v)));
  return Array.from(tensor.data as ArrayLike<number>);
};

// ---------------------------------------------------------------------------------------------
// header length and body framing

const parseContentType = (contentType: string | undefined): { mime: string; params: Map<string, string> } => {
  const [mime = '', ...rest] = (contentType ?? '').split(';');
  const params = new Map<string, string>();
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    params.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
  }
  return { mime: mime.trim().toLowerCase(), params };
};

const parseHeaderLength = (value: string, source: string, bodyLength: number): number => {
  if (!/^\d+$/.test(value)) throw new TritonProtocolError(`${source} must be a non-negative integer, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n > bodyLength) throw new TritonProtocolError(`${source} is ${n} but the body has only ${bodyLength} bytes`);
  return n;
};

/**
 * Length of the JSON header in a body: `Inference-Header-Content-Length` wins, then the
 * content type's `json-header-size`, else the whole body is JSON.
 */
export const jsonHeaderLength = (bodyLength: number, contentType: string | undefined, inferenceHeaderLength?: string): number => {
  if (inferenceHeaderLength !== undefined && inferenceHeaderLength !== '') {
    return parseHeaderLength(inferenceHeaderLength.trim(), 'Inference-Header-Content-Length', bodyLength);
  }
  const size = parseContentType(contentType).params.get('json-header-size');
  if (size !== undefined) return parseHeaderLength(size, 'json-header-size', bodyLength);
  return bodyLength;
};

export const binaryContentType = (headerLength: number): string => `${TRITON_BINARY_CONTENT_TYPE};json-header-size=${headerLength}`;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

const frame = (header: unknown, chunks: Uint8Array[]): { body: Uint8Array; headerLength: number } => {
  const json = utf8.encode(JSON.stringify(header));
  const body = new Uint8Array(json.length + chunks.reduce((n, c) => n + c.length, 0));
  body.set(json, 0);
  let offset = json.length;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return { body, headerLength: json.length };
};

const parseHeader = (body: Uint8Array, headerLength: number, what: string): Record<string, unknown> => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8Decoder.decode(body.subarray(0, headerLength)));
  } catch (error) {
    throw new TritonProtocolError(`${what} JSON header (${headerLength} bytes) is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TritonProtocolError(`${what} JSON header must be an object`);
  }
  return parsed as Record<string, unknown>;
};

type Parameters = Record<string, unknown>;

const parametersOf = (value: unknown, where: string): Parameters => {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TritonProtocolError(`${where}: "parameters" must be an object`);
  return value as Parameters;
};

/** Reads the tensors of a header (`inputs` or `outputs`), taking binary ones from the bytes after it. */
const readTensors = (entries: unknown, body: Uint8Array, headerLength: number, what: string): Tensor[] => {
  if (!Array.isArray(entries)) throw new TritonProtocolError(`${what} must be an array`);
  let offset = headerLength;
  const tensors = entries.map((entry, i): Tensor => {
    if (typeof entry !== 'object' || entry === null) throw new TritonProtocolError(`${what}[${i}] must be an object`);
    const e = entry as Record<string, unknown>;
    const name = e.name;
    if (typeof name !== 'string' || name === '') throw new TritonProtocolError(`${what}[${i}] needs a "name"`);
    const datatype = e.datatype;
    if (typeof datatype !== 'string' || !DATATYPES.has(datatype)) {
      throw new TritonProtocolError(`tensor ${name}: unsupported datatype ${JSON.stringify(datatype)} (supported: ${[...DATATYPES].join(', ')})`);
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new TritonProtocolError(`tensor ${name}: "shape" must be an array of non-negative integers`);
    }
    const dt = datatype as Datatype;
    const params = parametersOf(e.parameters, `tensor ${name}`);
    const size = params.binary_data_size;
    if (size !== undefined) {
      if (!Number.isInteger(size) || (size as number) < 0) throw new TritonProtocolError(`tensor ${name}: binary_data_size must be a non-negative integer`);
      const expected = elementCount(shape) * ELEMENT_BYTES[dt];
      if (size !== expected) {
        throw new TritonProtocolError(`tensor ${name}: binary_data_size ${size} does not match ${dt} shape [${shape.join(', ')}] (${expected} bytes)`);
      }
      if (offset + expected > body.length) {
        throw new TritonProtocolError(`tensor ${name}: body ends after ${body.length - offset} of its ${expected} binary bytes`);
      }
      const data = fromBytes(body.subarray(offset, offset + expected), dt, name);
      offset += expected;
      return { name, datatype: dt, shape: [...shape], data };
    }
    if (e.data === undefined) throw new TritonProtocolError(`tensor ${name}: neither "data" nor parameters.binary_data_size given`);
    return { name, datatype: dt, shape: [...shape], data: fromJsonData(e.data, dt, shape, name) };
  });
  if (offset !== body.length) {
    throw new TritonProtocolError(`${what}: ${body.length - offset} bytes after the JSON header are not claimed by any binary tensor`);
  }
  return tensors;
};

// ---------------------------------------------------------------------------------------------
// requests

export interface EncodedBody {
  body: Uint8Array;
  contentType: string;
  /** JSON header length, for `Inference-Header-Content-Length` on Triton's own /v2 paths. */
  headerLength: number;
}

/**
 * Binary request: every input as raw bytes, every named output asked for as binary (all outputs if
 * none named). `binaryOutputs: false` asks for JSON outputs instead, for replies read without the
 * response's content type (SageMaker async inference stores the body in S3).
 */
export const encodeInferRequest = (inputs: Tensor[], outputNames: string[], options: { binaryOutputs?: boolean } = {}): EncodedBody => {
  const binary = options.binaryOutputs ?? true;
  inputs.forEach(checkTensor);
  const chunks = inputs.map(toBytes);
  const header: Record<string, unknown> = {
    inputs: inputs.map((t, i) => ({ name: t.name, shape: t.shape, datatype: t.datatype, parameters: { binary_data_size: chunks[i]!.length } })),
  };
  if (outputNames.length > 0) header.outputs = outputNames.map((name) => ({ name, parameters: { binary_data: binary } }));
  else header.parameters = { binary_data_output: binary };
  const { body, headerLength } = frame(header, chunks);
  return { body, contentType: binaryContentType(headerLength), headerLength };
};

export interface DecodedInferRequest {
  inputs: Tensor[];
  /** Outputs asked for; empty means all of the model's outputs. */
  outputs: { name: string; binary: boolean }[];
  /** How outputs not named (when `outputs` is empty) are to be returned. */
  binaryOutputDefault: boolean;
}

export const decodeInferRequest = (body: Uint8Array, contentType: string | undefined, inferenceHeaderLength?: string): DecodedInferRequest => {
  if (body.length === 0) throw new TritonProtocolError('inference request body is empty');
  const headerLength = jsonHeaderLength(body.length, contentType, inferenceHeaderLength);
  const header = parseHeader(body, headerLength, 'inference request');
  if (header.inputs === undefined) throw new TritonProtocolError('inference request has no "inputs"');
  const inputs = readTensors(header.inputs, body, headerLength, 'inputs');
  const params = parametersOf(header.parameters, 'inference request');
  // A client that sent binary tensors with no output preference gets binary back: the SageMaker
  // content type can describe only one framing for the reply.
  const binaryOutputDefault =
    typeof params.binary_data_output === 'boolean' ? params.binary_data_output : headerLength !== body.length || parseContentType(contentType).mime === TRITON_BINARY_CONTENT_TYPE;
  let outputs: { name: string; binary: boolean }[] = [];
  if (header.outputs !== undefined) {
    if (!Array.isArray(header.outputs)) throw new TritonProtocolError('"outputs" must be an array');
    outputs = header.outputs.map((o, i) => {
      const out = o as Record<string, unknown> | null;
      if (typeof out !== 'object' || out === null || typeof out.name !== 'string' || out.name === '') {
        throw new TritonProtocolError(`outputs[${i}] needs a "name"`);
      }
      const p = parametersOf(out.parameters, `output ${out.name}`);
      return { name: out.name, binary: typeof p.binary_data === 'boolean' ? p.binary_data : binaryOutputDefault };
    });
  }
  return { inputs, outputs, binaryOutputDefault };
};

// ---------------------------------------------------------------------------------------------
// responses

export const encodeInferResponse = (
  model: { name: string; version: string },
  outputs: Tensor[],
  binary: boolean,
): { body: Uint8Array; contentType: string; headerLength?: number } => {
  outputs.forEach(checkTensor);
  const meta = { model_name: model.name, model_version: model.version };
  if (!binary) {
    const header = { ...meta, outputs: outputs.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, data: toJsonData(t) })) };
    return { body: utf8.encode(JSON.stringify(header)), contentType: JSON_CONTENT_TYPE };
  }
  const chunks = outputs.map(toBytes);
  const header = {
    ...meta,
    outputs: outputs.map((t, i) => ({ name: t.name, shape: t.shape, datatype: t.datatype, parameters: { binary_data_size: chunks[i]!.length } })),
  };
  const { body, headerLength } = frame(header, chunks);
  return { body, contentType: binaryContentType(headerLength), headerLength };
};

/** Decodes a reply; a v2 error body (`{"error": "..."}`) becomes a TritonProtocolError carrying the server's message. */
export const decodeInferResponse = (body: Uint8Array, contentType: string | undefined, inferenceHeaderLength?: string): Tensor[] => {
  if (body.length === 0) throw new TritonProtocolError('inference response body is empty');
  const headerLength = jsonHeaderLength(body.length, contentType, inferenceHeaderLength);
  const header = parseHeader(body, headerLength, 'inference response');
  if (typeof header.error === 'string') throw new TritonProtocolError(`inference server error: ${header.error}`);
  if (header.outputs === undefined) throw new TritonProtocolError('inference response has no "outputs"');
  return readTensors(header.outputs, body, headerLength, 'outputs');
};
