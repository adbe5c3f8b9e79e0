/**
 * `weft clean-text` and `weft color` as the data builder and a merchandiser run them: the real
 * CLI entry in a child process, bytes on stdin, lines on stdout.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const weft = fileURLToPath(new URL('../../cli/weft.mjs', import.meta.url));

const run = (args: string[], stdin: string | Uint8Array = ''): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [weft, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.end(stdin);
  });

describe('weft clean-text', () => {
  it('cleans all of stdin, including invalid UTF-8 bytes', async () => {
    const input = Buffer.concat([Buffer.from('<p>Womenâ€™s tee&nbsp;in <b>ruby</b></p>\n\n', 'utf8'), Buffer.from([0xff, 0x21])]);
    const { code, stdout } = await run(['clean-text'], input);
    expect(code).toBe(0);
    expect(stdout).toBe('Women’s tee in ruby\n\ufffd!\n');
  });

  it('caps the length with --max-chars', async () => {
    const { stdout } = await run(['clean-text', '--max-chars', '30'], 'Soft organic cotton jersey with a relaxed fit.');
    expect(stdout.trimEnd()).toBe('Soft organic [truncated]');
  });

  it('batch mode keeps one output line per input line, null for bad lines', async () => {
    const input = ['"Tom &amp;amp; Jerry"', '{"text": "<p>Linen</p><p>shirt</p>"}', 'not json', '{"title": "no text"}', '"ＦＵＬＬ"'].join('\n');
    const { code, stdout, stderr } = await run(['clean-text', '--jsonl'], `${input}\n`);
    expect(code).toBe(0);
    expect(stdout.trimEnd().split('\n').map((line) => JSON.parse(line))).toEqual(['Tom & Jerry', 'Linen\nshirt', null, null, 'FULL']);
    expect(stderr).toContain('line 3: not JSON');
    expect(stderr).toContain('line 4: expected a JSON string or an object with a string "text"');
  });

  it('batch mode strips boilerplate learned from the whole input per vendor', async () => {
    const policy = 'Free returns within 30 days of purchase.';
    const lines = Array.from({ length: 6 }, (_, i) => JSON.stringify({ vendor: 'acme', productId: `p${i}`, text: `<p>Unique product number ${i} in cotton.</p><p>${policy}</p>` }));
    lines.push(JSON.stringify({ vendor: 'globex', productId: 'g1', text: `Wool coat. ${policy}` }));
    const { code, stdout } = await run(['clean-text', '--jsonl', '--strip-boilerplate'], `${lines.join('\n')}\n`);
    expect(code).toBe(0);
    const out = stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as string);
    expect(out.slice(0, 6)).toEqual(Array.from({ length: 6 }, (_, i) => `Unique product number ${i} in cotton.`));
    expect(out[6]).toBe(`Wool coat. ${policy}`);
  });

  it('rejects bad options with a clear message and exit code 2', async () => {
    const { code, stderr } = await run(['clean-text', '--max-chars', 'lots']);
    expect(code).toBe(2);
    expect(stderr).toContain('--max-chars must be an integer');
  });
});

describe('weft color', () => {
  it('maps names given as arguments', async () => {
    const { code, stdout } = await run(['color', 'Oxblood', 'heather-grey', 'BLK/WHT', 'One Size']);
    expect(code).toBe(0);
    expect(stdout).toBe('Oxblood\tred\nheather-grey\tgrey\nBLK/WHT\tmulticolor\nOne Size\tunknown\n');
  });

  it('reads names from stdin, one per line, when none are given', async () => {
    const { stdout } = await run(['color'], 'Midnight Green\r\n\nrose gold\nQwzxv\n');
    expect(stdout).toBe('Midnight Green\tgreen\nrose gold\tpink\nQwzxv\tunknown\n');
  });

  it('explains decisions with --json', async () => {
    const { stdout } = await run(['color', '--json', 'Poseidon']);
    expect(JSON.parse(stdout)).toMatchObject({ raw: 'Poseidon', normalized: 'blue', via: 'dataset', matched: 'Poseidon' });
  });
});
