import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeS3Key } from '../../functions/shared/layout.js';
import { deleteRecord, encodeS3EventKey, nextSequencer } from '../../local/s3Events.js';

describe('S3-shaped notifications from s3rver events', () => {
  it('encodes keys as S3 does in notifications', () => {
    expect(encodeS3EventKey('acme/p 1/images/front view (1).jpg')).toBe('acme/p+1/images/front+view+%281%29.jpg');
    expect(encodeS3EventKey('a/b/images/x+y.jpg')).toBe('a/b/images/x%2By.jpg');
    expect(encodeS3EventKey('a/b/images/é~!*.png')).toBe("a/b/images/%C3%A9%7E%21*.png");
  });

  it('round-trips through the handlers\' decoder for any key', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (key) => decodeS3Key(encodeS3EventKey(key)) === key));
  });

  it('issues sequencers that grow as fixed-width hex, also within one millisecond', () => {
    const seq = Array.from({ length: 1000 }, nextSequencer);
    for (let i = 1; i < seq.length; i++) {
      expect(seq[i]!.length).toBe(seq[0]!.length);
      expect(seq[i]! > seq[i - 1]!).toBe(true);
    }
  });

  it('reports deletions without size or eTag, like S3', () => {
    const record = deleteRecord('weft-uploads', 'v/p/images/a b.jpg', 'eu-west-1');
    expect(record).toMatchObject({ eventName: 'ObjectRemoved:Delete', awsRegion: 'eu-west-1', s3: { bucket: { name: 'weft-uploads', arn: 'arn:aws:s3:::weft-uploads' }, object: { key: 'v/p/images/a+b.jpg' } } });
    expect(record.s3.object).not.toHaveProperty('size');
    expect(record.s3.object).not.toHaveProperty('eTag');
  });
});
