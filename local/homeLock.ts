/**
 * One running stack per $WEFT_HOME: two would share LevelDB (which refuses a second opener with an
 * obscure error on the first request) and the s3rver folder. A pid file makes the second start say
 * so plainly; a stale file left by a killed process is taken over.
 *
 * A stack that was just SIGKILLed can still be in the process table for a moment (tearing down its
 * threads and memory, or a zombie not yet reaped), so a start right after a kill waits briefly for
 * that pid to go before calling the folder in use.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class HomeInUseError extends Error {
  override readonly name = 'HomeInUseError';
}

/** On Linux a dead process waiting to be reaped shows state Z (or X) in /proc; elsewhere no answer. */
const exited = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^\S+ \(.*\) [ZX]/s.test(stat);
  } catch {
    return false;
  }
};

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !exited(pid);
};

/** Whether `pid` is still alive after up to `waitMs` (polled): a killed stack gets time to go. */
const stillAlive = (pid: number, waitMs: number): boolean => {
  const until = Date.now() + waitMs;
  while (alive(pid)) {
    if (Date.now() >= until) return true;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
  return false;
};

export const lockHome = (home: string, waitMs = 3000): (() => void) => {
  const file = join(home, 'weft.pid');
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && stillAlive(pid, waitMs)) {
      throw new HomeInUseError(`${home} is in use by another running stack (pid ${pid}); stop it or set WEFT_HOME to another folder`);
    }
    writeFileSync(file, String(process.pid));
  }
  return () => {
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file);
    } catch {
      // Already gone: nothing to release.
    }
  };
};
