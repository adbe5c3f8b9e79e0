import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HomeInUseError, lockHome } from '../../local/homeLock.js';

const home = (): string => mkdtempSync(join(tmpdir(), 'weft-lock-'));

describe('lockHome', () => {
  it('refuses a folder whose pid file names a running process, and releases its own', () => {
    const dir = home();
    const other = spawn('sleep', ['30']);
    try {
      writeFileSync(join(dir, 'weft.pid'), String(other.pid));
      expect(() => lockHome(dir, 100)).toThrow(HomeInUseError);
    } finally {
      other.kill('SIGKILL');
    }
    const fresh = home();
    const release = lockHome(fresh);
    expect(readFileSync(join(fresh, 'weft.pid'), 'utf8')).toBe(String(process.pid));
    release();
    expect(() => readFileSync(join(fresh, 'weft.pid'))).toThrow();
  });

  it('takes over from a stack killed a moment ago instead of calling the folder in use', async () => {
    const dir = home();
    const killed = spawn('sleep', ['30']);
    await new Promise((resolve) => killed.once('spawn', resolve));
    writeFileSync(join(dir, 'weft.pid'), String(killed.pid));
    // Not awaited: the start comes while the killed process may still be in the process table.
    killed.kill('SIGKILL');
    const release = lockHome(dir, 3000);
    expect(readFileSync(join(dir, 'weft.pid'), 'utf8')).toBe(String(process.pid));
    release();
  });

  it('takes over a pid file left by a process that is gone', () => {
    const dir = home();
    writeFileSync(join(dir, 'weft.pid'), '999999999');
    lockHome(dir, 100)();
  });
});
