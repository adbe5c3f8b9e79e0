/**
 * sharp ships one native binary per platform. The Lambda bundle is built on whatever machine runs
 * `cdk synth` (often x64), so the arm64/glibc build is installed explicitly and cached per version,
 * which keeps repeated synths (tests) from reinstalling it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../config/modelArtifacts.js';

export interface LambdaPlatform {
  readonly os: 'linux';
  readonly cpu: 'arm64' | 'x64';
  readonly libc: 'glibc';
}

export const LAMBDA_ARM64: LambdaPlatform = { os: 'linux', cpu: 'arm64', libc: 'glibc' };

/** The sharp version the project resolved, so the bundle runs the code the tests ran. */
export const projectSharpVersion = (): string => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/sharp/package.json'), 'utf8')) as { version: string };
  return pkg.version;
};

const cacheRoot = (): string => process.env.WEFT_CDK_CACHE ?? join(tmpdir(), 'weft-cdk-cache');

/** Returns a folder whose `node_modules` holds sharp and its binaries for `platform`. */
export const ensureSharpForLambda = (version: string, platform: LambdaPlatform = LAMBDA_ARM64): string => {
  const target = join(cacheRoot(), `sharp-${version}-${platform.os}-${platform.cpu}-${platform.libc}`);
  if (existsSync(join(target, 'node_modules', 'sharp', 'package.json'))) return target;
  mkdirSync(cacheRoot(), { recursive: true });
  const staging = mkdtempSync(`${target}.tmp-`);
  try {
    execFileSync(
      'npm',
      [
        'install', '--prefix', staging, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts',
        `--os=${platform.os}`, `--cpu=${platform.cpu}`, `--libc=${platform.libc}`, `sharp@${version}`,
      ],
      // Run outside the project so its .npmrc and package.json play no part.
      { cwd: staging, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    try {
      renameSync(staging, target);
    } catch (error) {
      // Another synth finished first; its copy is equivalent.
      if (!existsSync(join(target, 'node_modules', 'sharp'))) throw error;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return target;
};
