/**
 * One running stack per $WEFT_HOME: two would share LevelDB (which refuses a second opener with an
 * obscure error on the first request) and the s3rver folder. A pid file makes the second start say
 * so plainly; a stale file left by a killed process is taken over.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class HomeInUseError extends Error {
  override readonly name = 'HomeInUseError';
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export const lockHome = (home: string): (() => void) => {
  const file = join(home, 'weft.pid');
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
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
