import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import debug from 'debug';
import { TMP_MARK } from '../../../src/storage/fs-util.js';
import { materializeFile } from '../../../src/storage/materialize.js';
import { StorageError } from '../../../src/core/errors.js';

let dir: string;
let source: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-materialize-'));
  source = path.join(dir, 'data');
  writeFileSync(source, 'the blob');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('an output on the same filesystem is a hard link to the data (same inode), in a directory it creates', async () => {
  const out = path.join(dir, 'a', 'b', 'out.sif');
  const r = await materializeFile(source, out);
  assert.equal(r.method, 'link');
  assert.equal(statSync(out).ino, statSync(source).ino);
  assert.equal(r.size, 8);
});

test('an output under a regular file (no directory can be made) is a StorageError naming it; the source is untouched', async () => {
  const blocker = path.join(dir, 'not-a-dir');
  writeFileSync(blocker, 'x');
  await assert.rejects(materializeFile(source, path.join(blocker, 'sub', 'out.sif')), (e: unknown) => {
    assert.ok(e instanceof StorageError);
    assert.match(e.message, /not-a-dir/);
    return true;
  });
  assert.equal(readFileSync(source, 'utf8'), 'the blob');
  assert.equal(readFileSync(blocker, 'utf8'), 'x');
});

test('an existing output is replaced atomically, and no temp file is left beside it', async () => {
  const out = path.join(dir, 'replace.sif');
  writeFileSync(out, 'old contents');
  await materializeFile(source, out);
  assert.equal(readFileSync(out, 'utf8'), 'the blob');
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('replace') || f.startsWith('.')),
    ['replace.sif'],
  );
});

test('a symbolic link at the output is replaced by the file; its target is never written', async () => {
  const target = path.join(dir, 'target.txt');
  writeFileSync(target, 'keep me');
  const out = path.join(dir, 'link.sif');
  symlinkSync(target, out);
  await materializeFile(source, out);
  assert.equal(lstatSync(out).isSymbolicLink(), false);
  assert.equal(readFileSync(target, 'utf8'), 'keep me');
});

test('a symbolic link to another link of the data is replaced too, not taken for the file', async () => {
  const first = path.join(dir, 'first.sif');
  await materializeFile(source, first);
  const out = path.join(dir, 'points-at-first.sif');
  symlinkSync(first, out);
  const r = await materializeFile(source, out);
  assert.equal(r.method, 'link');
  assert.equal(lstatSync(out).isSymbolicLink(), false);
  assert.equal(lstatSync(out).ino, statSync(source).ino);
});

test('the same inode already at the output is a no-op', async () => {
  const out = path.join(dir, 'twice.sif');
  await materializeFile(source, out);
  const r = await materializeFile(source, out);
  assert.equal(r.method, 'link');
  assert.equal(r.ino, statSync(source).ino);
});

test('a missing source is a StorageError, and an existing output stays as it was', async () => {
  const out = path.join(dir, 'kept.sif');
  writeFileSync(out, 'mine');
  await assert.rejects(materializeFile(path.join(dir, 'nope'), out), StorageError);
  assert.equal(readFileSync(out, 'utf8'), 'mine');
});

test('an aborted signal rejects with its reason before anything is made', async () => {
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  const out = path.join(dir, 'aborted.sif');
  await assert.rejects(materializeFile(source, out, { signal: ac.signal }), /stop/);
  assert.throws(() => statSync(out), { code: 'ENOENT' });
});

/** A pid that was alive a moment ago and is not any more. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid!;
}

test('temp files of a copy killed mid-materialize are swept by the next copy into the directory: dead owner and old only, our exact name shape only, and the debug log says so', async (t) => {
  // Another filesystem than the source's (tmpfs), so that the output is a copy.
  const sweepDir = mkdtempSync(path.join('/dev/shm', 'orasfly-sweep-'));
  t.after(() => rmSync(sweepDir, { recursive: true, force: true }));
  const out = path.join(sweepDir, 'out.sif');
  const dead = await deadPid();
  const hourAgo = new Date(Date.now() - 60 * 60_000);
  const make = (name: string, old: boolean): string => {
    const p = path.join(sweepDir, name);
    writeFileSync(p, 'partial copy');
    if (old) utimesSync(p, hourAgo, hourAgo);
    return p;
  };
  const leftover = make(`${TMP_MARK}${dead}.0a1b2c3d`, true);
  const kept = [
    make(`${TMP_MARK}${process.pid}.11111111`, true), // its owner is alive
    make(`${TMP_MARK}${dead}.22222222`, false), // recent: may be another host's pull on a shared filesystem
    make(`${TMP_MARK}metadata.${dead}.33333333`, true), // not the shape of an output's temp name
    make(`${TMP_MARK}${dead}.4444444`, true),
    make(`${TMP_MARK}${dead}.55555555.sif`, true),
    make(`x${TMP_MARK}${dead}.66666666`, true),
  ];
  const asDir = path.join(sweepDir, `${TMP_MARK}${dead}.77777777`);
  mkdirSync(asDir);
  utimesSync(asDir, hourAgo, hourAgo);
  kept.push(asDir);

  const lines: string[] = [];
  const originalLog = debug.log;
  debug.enable('orasfly:storage');
  debug.log = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
  t.after(() => {
    debug.disable();
    debug.log = originalLog;
  });
  assert.equal((await materializeFile(source, out)).method, 'copy');
  assert.equal(existsSync(leftover), false, 'the dead, old leftover is gone');
  for (const p of kept) assert.ok(existsSync(p), `${path.basename(p)} is kept`);
  assert.equal(readFileSync(out, 'utf8'), 'the blob');
  assert.ok(
    lines.some((l) => l.includes('orasfly:storage') && l.includes(path.basename(leftover)) && l.includes(String(dead))),
    `the debug log names the leftover and its pid: ${lines.join('\n')}`,
  );
});

test('a copy gets the mode a new file gets under the umask, not the store file’s', async (t) => {
  // Another filesystem than the source's (tmpfs), so that the output is a copy.
  const copyDir = mkdtempSync(path.join('/dev/shm', 'orasfly-umask-'));
  t.after(() => rmSync(copyDir, { recursive: true, force: true }));
  const sourceMode = statSync(source).mode;
  const before = process.umask(0o077);
  try {
    const r = await materializeFile(source, path.join(copyDir, 'private.sif'));
    assert.equal(r.method, 'copy');
  } finally {
    process.umask(before);
  }
  assert.equal(statSync(path.join(copyDir, 'private.sif')).mode & 0o777, 0o600);
  assert.equal(statSync(source).mode, sourceMode, 'the store file is untouched');
  process.umask(0o022);
  try {
    await materializeFile(source, path.join(copyDir, 'shared.sif'));
  } finally {
    process.umask(before);
  }
  assert.equal(statSync(path.join(copyDir, 'shared.sif')).mode & 0o777, 0o644);
});

test('two pulls linking the same data to one output at once leave no temp link behind', async () => {
  const sub = mkdtempSync(path.join(dir, 'twice-at-once-'));
  const out = path.join(sub, 'x.sif');
  for (let i = 0; i < 5; i++) {
    rmSync(out, { force: true });
    const [a, b] = await Promise.all([materializeFile(source, out), materializeFile(source, out)]);
    assert.equal(a.method, 'link');
    assert.equal(b.method, 'link');
  }
  assert.deepEqual(readdirSync(sub), ['x.sif']);
  assert.equal(statSync(out).ino, statSync(source).ino);
});
