import { describe, expect, it } from 'vitest';
import {
  TRITON_BINARY_CONTENT_TYPE,
  TritonProtocolError,
  decodeInferRequest,
  decodeInferResponse,
  encodeInferRequest,
  encodeInferResponse,
  jsonHeaderLength,
  type Tensor,
} from '../../functions/shared/inference/triton.js';

const tensors: Tensor[] = [
  { name: 'u8', datatype: 'UINT8', shape: [2, 3], data: Uint8Array.from([0, 1, 2, 127, 128, 255]) },
  { name: 'flag', datatype: 'BOOL', shape: [3], data: Uint8Array.from([1, 0, 1]) },
  { name: 'i32', datatype: 'INT32', shape: [2, 2], data: Int32Array.from([-2147483648, -1, 0, 2147483647]) },
  { name: 'i64', datatype: 'INT64', shape: [1, 3], data: BigInt64Array.from([-(2n ** 63n), 101n, 2n ** 62n + 7n]) },
  { name: 'f32', datatype: 'FP32', shape: [4], data: Float32Array.from([0, -1.5, 3.4028234663852886e38, 1e-30]) },
  { name: 'f16', datatype: 'FP16', shape: [5], data: Float32Array.from([0, 1, -2.5, 65504, 0.0001220703125]) },
  { name: 'empty', datatype: 'FP32', shape: [0, 4], data: new Float32Array(0) },
];

const text = (body: Uint8Array): string => Buffer.from(body).toString('utf8');

describe('binary requests', () => {
  it.each(tensors)('round-trips $datatype tensor $name', (tensor) => {
    const { body, contentType, headerLength } = encodeInferRequest([tensor], ['out']);
    expect(contentType).toBe(`${TRITON_BINARY_CONTENT_TYPE};json-header-size=${headerLength}`);
    const decoded = decodeInferRequest(body, contentType);
    expect(decoded.inputs).toEqual([tensor]);
    expect(decoded.outputs).toEqual([{ name: 'out', binary: true }]);
  });

  it('round-trips several tensors in order and keeps the body compact', () => {
    const { body, headerLength } = encodeInferRequest(tensors, ['a', 'b']);
    const dataBytes = 6 + 3 + 16 + 24 + 16 + 10;
    expect(body.length).toBe(headerLength + dataBytes);
    const header = JSON.parse(text(body.subarray(0, headerLength)));
    expect(header.inputs.map((i: { parameters: { binary_data_size: number } }) => i.parameters.binary_data_size)).toEqual([6, 3, 16, 24, 16, 10, 0]);
    expect(decodeInferRequest(body, undefined, String(headerLength)).inputs).toEqual(tensors);
  });

  it('writes little-endian bytes', () => {
    const { body, headerLength } = encodeInferRequest([{ name: 'x', datatype: 'INT32', shape: [1], data: Int32Array.from([0x01020304]) }], []);
    expect([...body.subarray(headerLength)]).toEqual([4, 3, 2, 1]);
  });

  it('asks for all outputs as binary when none are named', () => {
    const { body, contentType } = encodeInferRequest([tensors[0]!], []);
    const decoded = decodeInferRequest(body, contentType);
    expect(decoded.outputs).toEqual([]);
    expect(decoded.binaryOutputDefault).toBe(true);
  });

  it('decodes tensors from a Buffer slice at an odd offset', () => {
    const { body, contentType } = encodeInferRequest([tensors[3]!, tensors[4]!], []);
    const padded = Buffer.alloc(body.length + 1);
    padded.set(body, 1);
    expect(decodeInferRequest(padded.subarray(1), contentType).inputs).toEqual([tensors[3], tensors[4]]);
  });
});

describe('plain JSON requests (v2 clients without the binary extension)', () => {
  it('reads nested and flat data arrays of each datatype', () => {
    const json = {
      inputs: [
        { name: 'u8', datatype: 'UINT8', shape: [2, 2], data: [[1, 2], [3, 255]] },
        { name: 'b', datatype: 'BOOL', shape: [2], data: [true, false] },
        { name: 'i32', datatype: 'INT32', shape: [2], data: [-5, 7] },
        { name: 'i64', datatype: 'INT64', shape: [1, 2], data: [101, 2] },
        { name: 'f', datatype: 'FP32', shape: [2], data: [0.5, -1] },
      ],
      outputs: [{ name: 'category' }, { name: 'color', parameters: { binary_data: true } }],
    };
    const decoded = decodeInferRequest(Buffer.from(JSON.stringify(json)), 'application/json');
    expect(decoded.inputs).toEqual([
      { name: 'u8', datatype: 'UINT8', shape: [2, 2], data: Uint8Array.from([1, 2, 3, 255]) },
      { name: 'b', datatype: 'BOOL', shape: [2], data: Uint8Array.from([1, 0]) },
      { name: 'i32', datatype: 'INT32', shape: [2], data: Int32Array.from([-5, 7]) },
      { name: 'i64', datatype: 'INT64', shape: [1, 2], data: BigInt64Array.from([101n, 2n]) },
      { name: 'f', datatype: 'FP32', shape: [2], data: Float32Array.from([0.5, -1]) },
    ]);
    expect(decoded.outputs).toEqual([
      { name: 'category', binary: false },
      { name: 'color', binary: true },
    ]);
    expect(decoded.binaryOutputDefault).toBe(false);
  });

  it('mixes JSON and binary tensors in one body', () => {
    const header = {
      inputs: [
        { name: 'a', datatype: 'UINT8', shape: [2], parameters: { binary_data_size: 2 } },
        { name: 'b', datatype: 'INT32', shape: [1], data: [9] },
      ],
    };
    const json = Buffer.from(JSON.stringify(header));
    const body = Buffer.concat([json, Buffer.from([7, 8])]);
    const decoded = decodeInferRequest(body, 'application/octet-stream', String(json.length));
    expect(decoded.inputs.map((t) => Array.from(t.data as ArrayLike<number>))).toEqual([[7, 8], [9]]);
  });
});

describe('responses', () => {
  const model = { name: 'weft-image', version: '1' };
  const outputs: Tensor[] = [
    { name: 'category', datatype: 'FP32', shape: [2, 3], data: Float32Array.from([0.1, 0.2, 0.7, 0.3, 0.3, 0.4]) },
    { name: 'count', datatype: 'INT64', shape: [2], data: BigInt64Array.from([3n, 4n]) },
  ];

  it('round-trips binary responses with the header size in the content type', () => {
    const { body, contentType, headerLength } = encodeInferResponse(model, outputs, true);
    expect(contentType).toBe(`${TRITON_BINARY_CONTENT_TYPE};json-header-size=${headerLength}`);
    expect(JSON.parse(text(body.subarray(0, headerLength!)))).toMatchObject({ model_name: 'weft-image', model_version: '1' });
    expect(decodeInferResponse(body, contentType)).toEqual(outputs);
  });

  it('round-trips JSON responses', () => {
    const { body, contentType, headerLength } = encodeInferResponse(model, outputs, false);
    expect(contentType).toBe('application/json');
    expect(headerLength).toBeUndefined();
    expect(JSON.parse(text(body)).outputs[1].data).toEqual([3, 4]);
    expect(decodeInferResponse(body, contentType)).toEqual(outputs);
  });

  it('reads the header size from Inference-Header-Content-Length when given', () => {
    const { body, headerLength } = encodeInferResponse(model, outputs, true);
    expect(decodeInferResponse(body, 'application/octet-stream', String(headerLength))).toEqual(outputs);
  });

  it('turns a v2 error body into an error carrying the message', () => {
    expect(() => decodeInferResponse(Buffer.from('{"error":"model weft-image is not ready"}'), 'application/json')).toThrow(/not ready/);
  });
});

describe('header size parsing', () => {
  it('prefers Inference-Header-Content-Length over the content type', () => {
    expect(jsonHeaderLength(100, `${TRITON_BINARY_CONTENT_TYPE};json-header-size=40`, '30')).toBe(30);
  });
  it('accepts spaces, case and quotes in the content type parameter', () => {
    expect(jsonHeaderLength(100, `${TRITON_BINARY_CONTENT_TYPE}; JSON-Header-Size="42"`)).toBe(42);
  });
  it('treats the whole body as JSON without any size', () => {
    expect(jsonHeaderLength(100, 'application/json')).toBe(100);
    expect(jsonHeaderLength(100, undefined)).toBe(100);
  });
  it.each(['-1', 'abc', '1.5', '101'])('rejects json-header-size=%s', (value) => {
    expect(() => jsonHeaderLength(100, `${TRITON_BINARY_CONTENT_TYPE};json-header-size=${value}`)).toThrow(TritonProtocolError);
  });
});

describe('malformed bodies', () => {
  const binary = (header: unknown, data: number[] = []): { body: Buffer; contentType: string } => {
    const json = Buffer.from(JSON.stringify(header));
    return { body: Buffer.concat([json, Buffer.from(data)]), contentType: `${TRITON_BINARY_CONTENT_TYPE};json-header-size=${json.length}` };
  };
  const cases: [string, () => unknown, RegExp][] = [
    ['empty body', () => decodeInferRequest(new Uint8Array(0), undefined), /empty/],
    ['not JSON', () => decodeInferRequest(Buffer.from('{"inputs": ['), 'application/json'), /not valid JSON/],
    ['header cut inside a multi-byte character', () => decodeInferRequest(Buffer.from('{"a":"é"}'), `${TRITON_BINARY_CONTENT_TYPE};json-header-size=8`), /not valid JSON/],
    ['JSON array instead of object', () => decodeInferRequest(Buffer.from('[]'), 'application/json'), /must be an object/],
    ['no inputs', () => decodeInferRequest(Buffer.from('{}'), 'application/json'), /no "inputs"/],
    ['unknown datatype', () => decodeInferRequest(...Object.values(binary({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [1], data: ['a'] }] })) as [Buffer, string]), /unsupported datatype "BYTES"/],
    ['bad shape', () => decodeInferRequest(...Object.values(binary({ inputs: [{ name: 'x', datatype: 'UINT8', shape: [-1], data: [] }] })) as [Buffer, string]), /shape/],
    ['size does not match shape', () => decodeInferRequest(...Object.values(binary({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 4 } }] }, [0, 0, 0, 0])) as [Buffer, string]), /does not match/],
    ['truncated binary data', () => decodeInferRequest(...Object.values(binary({ inputs: [{ name: 'x', datatype: 'UINT8', shape: [4], parameters: { binary_data_size: 4 } }] }, [1, 2])) as [Buffer, string]), /body ends after 2 of its 4/],
    ['trailing bytes', () => decodeInferRequest(...Object.values(binary({ inputs: [{ name: 'x', datatype: 'UINT8', shape: [1], parameters: { binary_data_size: 1 } }] }, [1, 2])) as [Buffer, string]), /1 bytes after the JSON header/],
    ['wrong element count in data', () => decodeInferRequest(Buffer.from('{"inputs":[{"name":"x","datatype":"INT32","shape":[3],"data":[1,2]}]}'), 'application/json'), /needs 3 elements/],
    ['out-of-range UINT8', () => decodeInferRequest(Buffer.from('{"inputs":[{"name":"x","datatype":"UINT8","shape":[1],"data":[256]}]}'), 'application/json'), /256 is not a valid UINT8/],
    ['BOOL byte other than 0/1', () => decodeInferRequest(...Object.values(binary({ inputs: [{ name: 'x', datatype: 'BOOL', shape: [1], parameters: { binary_data_size: 1 } }] }, [2])) as [Buffer, string]), /0 or 1/],
    ['missing data', () => decodeInferRequest(Buffer.from('{"inputs":[{"name":"x","datatype":"INT32","shape":[1]}]}'), 'application/json'), /neither "data" nor/],
    ['unnamed output', () => decodeInferRequest(Buffer.from('{"inputs":[],"outputs":[{}]}'), 'application/json'), /outputs\[0\] needs a "name"/],
    ['response without outputs', () => decodeInferResponse(Buffer.from('{"model_name":"m"}'), 'application/json'), /no "outputs"/],
  ];
  it.each(cases)('%s → TritonProtocolError', (_name, run, message) => {
    expect(run).toThrow(TritonProtocolError);
    expect(run).toThrow(message);
  });

  it('refuses to encode data that does not fit its datatype or shape', () => {
    expect(() => encodeInferRequest([{ name: 'x', datatype: 'INT64', shape: [1], data: Int32Array.from([1]) }], [])).toThrow(/BigInt64Array/);
    expect(() => encodeInferRequest([{ name: 'x', datatype: 'UINT8', shape: [2, 2], data: new Uint8Array(3) }], [])).toThrow(/needs 4 elements/);
  });
});
