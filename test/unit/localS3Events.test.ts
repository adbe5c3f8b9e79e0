import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeS3Key } from '../../functions/shared/layout.js';
import { createdRecord, deleteRecord, encodeS3EventKey } from '../../local/s3Events.js';
import { SequencerClock } from '../../local/sequencer.js';

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
    const clock = new SequencerClock();
    const seq = Array.from({ length: 1000 }, () => clock.next());
    for (let i = 1; i < seq.length; i++) {
      expect(seq[i]!.length).toBe(seq[0]!.length);
      expect(seq[i]! > seq[i - 1]!).toBe(true);
    }
  });

  it('issues sequencers that keep growing when the clock goes back', () => {
    let now = 1_800_000_000_000;
    const clock = new SequencerClock(undefined, () => now);
    const first = clock.next();
    now -= 60_000;
    expect(clock.next() > first).toBe(true);
  });

  it('reports a stored object with its size and eTag, the key encoded', () => {
    const record = createdRecord({ bucket: 'weft-uploads', key: 'v/p/images/a b.jpg', eventName: 'ObjectCreated:Put', size: 3, eTag: 'abc' }, 'us-east-1', '00000000000000AA');
    expect(record).toMatchObject({ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'weft-uploads' }, object: { key: 'v/p/images/a+b.jpg', size: 3, eTag: 'abc', sequencer: '00000000000000AA' } } });
  });

  it('reports deletions without size or eTag, like S3', () => {
    const record = deleteRecord('weft-uploads', 'v/p/images/a b.jpg', 'eu-west-1', '00000000000000AB');
    expect(record).toMatchObject({ eventName: 'ObjectRemoved:Delete', awsRegion: 'eu-west-1', s3: { bucket: { name: 'weft-uploads', arn: 'arn:aws:s3:::weft-uploads' }, object: { key: 'v/p/images/a+b.jpg' } } });
    expect(record.s3.object).not.toHaveProperty('size');
    expect(record.s3.object).not.toHaveProperty('eTag');
  });
});
