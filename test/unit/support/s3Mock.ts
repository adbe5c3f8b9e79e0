/** An S3 mock (aws-sdk-client-mock) backed by an in-memory object map. */
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';

export const mockS3 = () => {
  const objects = new Map<string, Uint8Array>();
  const mock = mockClient(S3Client);
  mock.on(GetObjectCommand).callsFake(async (input: { Key: string }) => {
    const bytes = objects.get(input.Key);
    if (!bytes) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    // A Node stream is what the SDK's Body is in Node (it adds helpers the handlers do not use).
    return { Body: Readable.from([Buffer.from(bytes)]) as never, ContentLength: bytes.byteLength };
  });
  mock.on(PutObjectCommand).callsFake(async (input: { Key: string; Body: Uint8Array }) => {
    objects.set(input.Key, input.Body);
    return {};
  });
  mock.on(DeleteObjectCommand).callsFake(async (input: { Key: string }) => {
    objects.delete(input.Key);
    return {};
  });
  return { mock, objects };
};
