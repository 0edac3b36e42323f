import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertOutputPath, isSafeFileName } from '../../../src/storage/output-path.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-outpath-'));
  mkdirSync(path.join(dir, 'store'));
  writeFileSync(path.join(dir, 'file'), 'x');
  symlinkSync(path.join(dir, 'file'), path.join(dir, 'link'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('absent paths, regular files and symbolic links may be replaced', async () => {
  await assertOutputPath(path.join(dir, 'new.sif'));
  await assertOutputPath(path.join(dir, 'file'));
  await assertOutputPath(path.join(dir, 'link'));
});

test('a directory, a device, or a path inside the store is refused', async () => {
  await assert.rejects(assertOutputPath(dir), InvalidArgumentError);
  await assert.rejects(assertOutputPath('/dev/null'), /character device/);
  await assert.rejects(assertOutputPath(path.join(dir, 'store', 'x'), path.join(dir, 'store')), InvalidArgumentError);
});

test('isSafeFileName: one plain name, never a dot-name, a separator or a control character', () => {
  assert.equal(isSafeFileName('img.sif'), true);
  for (const bad of [undefined, '', '.', '..', '.bashrc', 'a/b', 'a\\b', 'a\u0001b', 'x'.repeat(256)])
    assert.equal(isSafeFileName(bad), false, String(bad));
});
