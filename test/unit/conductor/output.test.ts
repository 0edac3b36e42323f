import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { checkOutput, layerPath } from '../../../src/conductor/output.js';

test('titles become paths inside the directory: nested names are allowed, escapes and dot-names are not', () => {
  assert.equal(layerPath('model.bin'), 'model.bin');
  assert.equal(layerPath('docs/README.txt'), path.join('docs', 'README.txt'));
  for (const bad of [
    '../escape',
    '/etc/passwd',
    'a/../b',
    '.bashrc',
    'docs/.hidden',
    'a//b',
    '',
    'x\u0000y',
    'a\\b',
    `${'a/'.repeat(8)}z`,
  ]) {
    assert.equal(layerPath(bad), undefined, JSON.stringify(bad));
  }
});

test('the parents of an output are created with the umask, as any directory (not 0700)', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'orasfly-output-'));
  try {
    await checkOutput(path.join(root, 'a', 'b', 'x.sif'), path.join(root, 'store'));
    mkdirSync(path.join(root, 'plain'));
    const umaskMode = statSync(path.join(root, 'plain')).mode & 0o777;
    assert.equal(statSync(path.join(root, 'a')).mode & 0o777, umaskMode);
    assert.equal(statSync(path.join(root, 'a', 'b')).mode & 0o777, umaskMode);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
