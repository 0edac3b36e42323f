// The command's code cache (src/cli/compile-cache.ts): where it lives, that it is named by the
// source it belongs to, and that bytecode is read only from a private regular file of this user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  compileCacheDir,
  compileCacheFile,
  readCompileCache,
  writeCompileCache,
} from '../../../src/cli/compile-cache.js';

test('the directory: ORASFLY_COMPILE_CACHE, else $XDG_CACHE_HOME/orasfly, else ~/.cache/orasfly; off disables', () => {
  for (const off of ['off', 'OFF', '0', 'false', 'no'])
    assert.equal(compileCacheDir({ ORASFLY_COMPILE_CACHE: off, HOME: '/h' }), undefined, off);
  assert.equal(compileCacheDir({ ORASFLY_COMPILE_CACHE: '/c', XDG_CACHE_HOME: '/x', HOME: '/h' }), '/c');
  // A relative directory (or an "on" word) would put a cache wherever the command runs: the default.
  for (const v of ['rel/dir', 'true', 'on', '1'])
    assert.equal(compileCacheDir({ ORASFLY_COMPILE_CACHE: v, HOME: '/h' }), path.join('/h', '.cache', 'orasfly'), v);
  assert.equal(compileCacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' }), path.join('/x', 'orasfly'));
  // A relative XDG_CACHE_HOME is invalid by the XDG spec, and ignored.
  assert.equal(compileCacheDir({ XDG_CACHE_HOME: 'rel', HOME: '/h' }), path.join('/h', '.cache', 'orasfly'));
});

test('the file is named by the source digest, this Node and this architecture', () => {
  const a = compileCacheFile('/c', 'source one');
  assert.equal(a, compileCacheFile('/c', 'source one'));
  assert.notEqual(a, compileCacheFile('/c', 'source one '));
  assert.equal(path.dirname(a), '/c');
  assert.ok(path.basename(a).startsWith(`v8-${process.version}-${process.arch}-`), a);
  assert.match(path.basename(a), /-[0-9a-f]{32}\.bin$/);
});

test('written privately and atomically, read back; only the newest two caches of other builds stay', () => {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'orasfly-cc-')), 'a', 'b');
  const olds = ['build 1', 'build 2', 'build 3'].map((b) => compileCacheFile(dir, b));
  for (const [i, f] of olds.entries()) {
    assert.equal(writeCompileCache(f, Buffer.from('old')), true);
    utimesSync(f, 1000 + i, 1000 + i);
  }
  writeFileSync(path.join(dir, 'unrelated.txt'), 'x');
  const file = compileCacheFile(dir, 'new build');
  assert.equal(writeCompileCache(file, Buffer.from('bytecode')), true);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(readCompileCache(file), Buffer.from('bytecode'));
  assert.deepEqual(
    readdirSync(dir).sort(),
    [path.basename(file), path.basename(olds[1]!), path.basename(olds[2]!), 'unrelated.txt'].sort(),
    'the oldest other build is gone',
  );
  // An existing cache is replaced whole.
  assert.equal(writeCompileCache(file, Buffer.from('newer')), true);
  assert.deepEqual(readCompileCache(file), Buffer.from('newer'));
});

test('a missing, linked, shared or foreign file is not read; an unwritable directory is only a miss', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-cc-'));
  const file = compileCacheFile(dir, 'src');
  assert.equal(readCompileCache(file), undefined, 'missing');
  const real = path.join(dir, 'real.bin');
  writeFileSync(real, 'bytecode', { mode: 0o600 });
  symlinkSync(real, file);
  assert.equal(readCompileCache(file), undefined, 'a symbolic link is not followed');
  const shared = compileCacheFile(dir, 'shared');
  writeFileSync(shared, 'bytecode', { mode: 0o600 });
  chmodSync(shared, 0o620);
  assert.equal(readCompileCache(shared), undefined, 'group-writable');
  chmodSync(shared, 0o602);
  assert.equal(readCompileCache(shared), undefined, 'world-writable');
  chmodSync(shared, 0o644);
  assert.deepEqual(readCompileCache(shared), Buffer.from('bytecode'), 'readable by others is fine');
  const sub = compileCacheFile(dir, 'a directory');
  mkdirSync(sub);
  assert.equal(readCompileCache(sub), undefined, 'not a regular file');
  if (process.getuid?.() === 0) {
    // As root (CI), a file owned by another user is refused even though root could read it.
    chownSync(shared, 12345, 12345);
    assert.equal(readCompileCache(shared), undefined, 'owned by another user');
  }
  // A cache directory that is a file: nothing written, no throw.
  const blocked = path.join(dir, 'blocked');
  writeFileSync(blocked, '');
  assert.equal(writeCompileCache(compileCacheFile(path.join(blocked, 'sub'), 'src'), Buffer.from('x')), false);
});
