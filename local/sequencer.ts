/**
 * S3 sequencers: per key they only grow, and the handlers skip an event whose sequencer is not
 * newer than the one they recorded (an older event arriving late). Taken from the clock alone they
 * would go backwards after a restart with the clock set back (NTP, a resumed VM), and every upload
 * of an already-seen key would then be skipped as superseded. So the clock only seeds them: each
 * is larger than the last, and a reservation persisted ahead of use (one small write per minute of
 * clock time) makes the next run start above anything this one can have issued.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** Clock units (µs) reserved per write: one minute. */
const RESERVATION = 60_000_000n;

export class SequencerStateError extends Error {
  override readonly name = 'SequencerStateError';
}

export class SequencerClock {
  private last = 0n;
  private reservedUpTo = 0n;

  /** `file` keeps the reservation across restarts; without it sequencers only grow within this process. */
  constructor(
    private readonly file?: string,
    private readonly now: () => number = () => Date.now(),
  ) {
    if (file && existsSync(file)) {
      try {
        const { reservedUpTo } = JSON.parse(readFileSync(file, 'utf8')) as { reservedUpTo?: unknown };
        if (typeof reservedUpTo !== 'string' || !/^[0-9A-F]+$/.test(reservedUpTo)) throw new Error('no reservedUpTo hex string');
        this.reservedUpTo = BigInt(`0x${reservedUpTo}`);
      } catch (error) {
        throw new SequencerStateError(
          `${file} cannot be read (${(error as Error).message}); it keeps S3 sequencers growing across restarts. ` +
            'Delete it to seed them from the clock again (safe unless the clock was set back since the last run).',
          { cause: error },
        );
      }
      this.last = this.reservedUpTo;
    }
  }

  /** The next sequencer: fixed-width upper-case hex, so they also compare as strings. */
  next(): string {
    const clock = BigInt(Math.floor(this.now())) * 1000n;
    const candidate = clock > this.last ? clock : this.last + 1n;
    if (this.file && candidate > this.reservedUpTo) this.reserve(candidate + RESERVATION);
    this.last = candidate;
    return candidate.toString(16).toUpperCase().padStart(16, '0');
  }

  private reserve(upTo: bigint): void {
    const tmp = `${this.file!}.tmp`;
    writeFileSync(tmp, JSON.stringify({ reservedUpTo: upTo.toString(16).toUpperCase() }));
    renameSync(tmp, this.file!);
    this.reservedUpTo = upTo;
  }
}
