// Habits of oras, Apptainer and dfget users, against a real registry: `pull` and its Apptainer
// order, the safe default output name, a progress bar by default on a terminal (and --no-progress),
// and dfget's replacement of an existing output, said on stderr.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { startRegistry, pushSif, type RunningRegistry, type PushedArtifact } from '../../harness/index.js';
import { runCli as runInProcess, type CliIo } from '../../../src/cli/main.js';
import { sha256File } from '../conductor/helpers.js';
import { runCli } from './run-cli.js';

let reg: RunningRegistry;
let pushed: PushedArtifact;
let root: string;
let n = 0;
before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'orasfly-habits-'));
  reg = await startRegistry({ variant: 'anonymous' });
  pushed = await pushSif(reg, 'lab/lolcow', 'latest', { size: 2 * 1024 * 1024, seed: 51 });
});
after(async () => {
  await reg?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** An in-process run in a fresh working directory, stderr a terminal or not. */
async function inProcess(
  argv: string[],
  tty: boolean,
): Promise<{ code: number; out: string; err: string; cwd: string }> {
  const cwd = path.join(root, `w${n++}`);
  mkdirSync(cwd, { recursive: true });
  let out = '';
  let err = '';
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: tty, columns: 100 });
  stdout.on('data', (d: Buffer) => (out += d));
  stderr.on('data', (d: Buffer) => (err += d));
  const io: CliIo = { stdout, stderr, env: { HOME: cwd, XDG_CONFIG_HOME: path.join(cwd, 'xdg') }, cwd };
  const code = await runInProcess(
    [...argv, '--datadir', path.join(cwd, 'store'), '--logdir', path.join(cwd, 'logs')],
    io,
  );
  return { code, out, err, cwd };
}

test("`pull oras://…` with no -O writes NAME_TAG.sif (no colon); `pull OUTPUT oras://…` is Apptainer's order", async () => {
  const r = await inProcess(['pull', reg.ref('lab/lolcow:latest')], false);
  assert.equal(r.code, 0, r.err);
  const file = path.join(r.cwd, 'lolcow_latest.sif');
  assert.match(r.out, new RegExp(`output path: ${file.replace(/[.]/g, '\\.')}`));
  assert.equal(await sha256File(file), pushed.layer.digest);
  const a = await inProcess(['pull', 'mine.sif', reg.ref('lab/lolcow:latest')], false);
  assert.equal(a.code, 0, a.err);
  assert.equal(await sha256File(path.join(a.cwd, 'mine.sif')), pushed.layer.digest);
  const v = await inProcess(['version'], false);
  assert.equal(v.code, 0);
  assert.match(v.out, /^orasfly version: /);
});

test('a progress bar on a terminal by default; --no-progress turns it off; --json draws one only with -b', async () => {
  const bar = await inProcess([reg.ref('lab/lolcow:latest'), '-O', 'a.sif'], true);
  assert.equal(bar.code, 0, bar.err);
  assert.match(bar.err, /\r\[=+>?\s*\] 100% 2\.0 MiB\/2\.0 MiB/);
  const off = await inProcess([reg.ref('lab/lolcow:latest'), '-O', 'a.sif', '--no-progress'], true);
  assert.equal(off.code, 0, off.err);
  assert.equal(off.err, '');
  const json = await inProcess([reg.ref('lab/lolcow:latest'), '-O', 'a.sif', '--json'], true);
  assert.ok(!json.err.includes('\r['), 'no bar with --json');
  const forced = await inProcess([reg.ref('lab/lolcow:latest'), '-O', 'a.sif', '--json', '-b'], true);
  assert.match(forced.err, /\r\[/);
  // Not a terminal (a batch log): progress lines, unless --no-progress.
  const h = path.join(root, `spawned${n++}`);
  mkdirSync(h);
  const dirs = ['--datadir', path.join(h, 'store'), '--logdir', path.join(h, 'logs')];
  const lines = await runCli(h, [reg.ref('lab/lolcow:latest'), '-O', path.join(h, 'a.sif'), ...dirs]);
  assert.match(lines.stderr, /^progress: 100% /m);
  const quiet = await runCli(h, [
    reg.ref('lab/lolcow:latest'),
    '-O',
    path.join(h, 'b.sif'),
    '--datadir',
    path.join(h, 'store2'),
    '--logdir',
    path.join(h, 'logs'),
    '--no-progress',
  ]);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /progress:/);
});

test('an existing output is replaced, as dfget does, and stderr says so; a re-pull of the same content says nothing', async () => {
  const cwd = path.join(root, `over${n++}`);
  mkdirSync(cwd);
  const out = path.join(cwd, 'lolcow.sif');
  writeFileSync(out, 'my notes, not an image');
  const dirs = ['--datadir', path.join(cwd, 'store'), '--logdir', path.join(cwd, 'logs')];
  const r = await runCli(cwd, [reg.ref('lab/lolcow:latest'), '-O', out, ...dirs]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await sha256File(out), pushed.layer.digest);
  assert.match(r.stderr, new RegExp(`note: replaced the existing file ${out.replace(/[.]/g, '\\.')}`));
  const again = await runCli(cwd, [reg.ref('lab/lolcow:latest'), '-O', out, ...dirs]);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /replaced/);
  assert.ok(existsSync(out) && statSync(out).nlink >= 2);
  assert.ok(!readFileSync(out).includes('my notes'));
});
