/**
 * The stack under test as a person runs it: `npm start` in a process group of its own (npm → sh →
 * tsx → node), so a signal can hit the whole group at once, as Ctrl-C in a terminal or a process
 * manager's stop does. Its output goes to a log file; the addresses come from what it prints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';

export interface ChildUrls {
  api: string;
  s3: string;
  dynamodb: string;
}

export interface ChildStack {
  /** Process group id (the npm process's pid). */
  pgid: number;
  urls: ChildUrls;
  /** What the child printed since it started (stdout and stderr, interleaved). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ChildOptions {
  root: string;
  home: string;
  modelsDir: string;
  faults?: string;
  logFile: string;
  startTimeoutMs: number;
}

const live = new Set<number>();
let cleanupInstalled = false;

/** A runner that dies (or is interrupted) must not leave stacks behind. */
const installCleanup = (): void => {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = (): void => {
    for (const pgid of live) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
};

export class ChildStartError extends Error {
  override readonly name = 'ChildStartError';
}

export const startChild = async (opts: ChildOptions): Promise<ChildStack> => {
  installCleanup();
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  log.write(`\n===== npm start at ${new Date().toISOString()} =====\n`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WEFT_HOME: opts.home,
    WEFT_MODELS_DIR: opts.modelsDir,
    WEFT_SAMPLES_DIR: `${opts.home}/no-samples`,
    WEFT_API_PORT: '0',
    WEFT_S3_PORT: '0',
    WEFT_DYNAMODB_PORT: '0',
    WEFT_MODELS_PORT: '0',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  delete env.WEFT_FAULTS;
  if (opts.faults !== undefined) env.WEFT_FAULTS = opts.faults;
  const child: ChildProcess = spawn('npm', ['start'], { cwd: opts.root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pgid = child.pid!;
  live.add(pgid);
  let out = '';
  const onData = (d: Buffer): void => {
    out += d.toString();
    if (!log.writableEnded) log.write(d);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      log.write(`===== npm exited (code ${code}, signal ${signal}) =====\n`);
      resolve({ code, signal });
    }),
  );
  // npm can exit before the stack it started; the pipes close when the last of them has.
  child.on('close', () => log.end());

  const deadline = Date.now() + opts.startTimeoutMs;
  while (!out.includes('Ctrl-C stops everything')) {
    if (child.exitCode !== null || child.signalCode !== null) throw new ChildStartError(`npm start exited before it was ready (${child.exitCode ?? child.signalCode}):\n${out.slice(-2000)}`);
    if (Date.now() > deadline) {
      await killGroup(pgid, 'SIGKILL', 10_000);
      throw new ChildStartError(`npm start was not ready within ${opts.startTimeoutMs / 1000} s:\n${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = (label: string): string => {
    const match = new RegExp(`^\\s*${label}\\s+(http://\\S+)`, 'm').exec(out);
    if (!match) throw new ChildStartError(`no ${label} address in the output of npm start:\n${out.slice(-2000)}`);
    // The runner sends traffic to this machine only.
    if (new URL(match[1]!).hostname !== '127.0.0.1') throw new ChildStartError(`${label} listens on ${match[1]}, not on 127.0.0.1`);
    return match[1]!;
  };
  return { pgid, urls: { api: url('API'), s3: url('S3'), dynamodb: url('DynamoDB') }, output: () => out, exited };
};

/** Processes of the group that are not zombies (Linux /proc; elsewhere any that signals). */
const groupAlive = (pgid: number): boolean => {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue;
      }
      // pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
    }
    return false;
  } catch {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
};

/**
 * Sends `signal` to the whole group and waits until none of it runs; past `timeoutMs` the group
 * is killed. Returns whether it went within the time and how long that took.
 */
export const killGroup = async (pgid: number, signal: NodeJS.Signals, timeoutMs: number): Promise<{ seconds: number; inTime: boolean }> => {
  const started = performance.now();
  try {
    process.kill(-pgid, signal);
  } catch {
    // Nothing left to signal.
  }
  const deadline = Date.now() + timeoutMs;
  let inTime = true;
  while (groupAlive(pgid)) {
    if (Date.now() > deadline) {
      inTime = false;
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
      const hard = Date.now() + 10_000;
      while (groupAlive(pgid) && Date.now() < hard) await new Promise((r) => setTimeout(r, 50));
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  live.delete(pgid);
  return { seconds: (performance.now() - started) / 1000, inTime };
};
