import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
