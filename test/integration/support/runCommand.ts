/**
 * Commands as a person runs them, in a child process from the repository root: the exit code and
 * both streams, whether the command succeeded or not.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(import.meta.dirname, '../../..');

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const runCommand = async (file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CommandResult> => {
  try {
    const { stdout, stderr } = await promisify(execFile)(file, [...args], {
      cwd: ROOT,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

/** `weft <args>` through the repository's CLI entry, with `env` on top of this process's. */
export const runWeft = (args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CommandResult> =>
  runCommand(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], env);
