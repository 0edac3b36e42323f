import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { layerPath } from '../../../src/conductor/output.js';

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
