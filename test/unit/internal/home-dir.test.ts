// The home directory lookup shared by the CLI's defaults, the credential files and the code cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { homeDirectory } from '../../../src/internal/home-dir.js';

test('HOME wins; without it the passwd entry answers (no HOME and no entry is covered by cli/no-home)', () => {
  assert.equal(homeDirectory({ HOME: '/somewhere/else' }), '/somewhere/else');
  // os.homedir() reads process.env.HOME first: this process's answer is the same either way.
  assert.equal(homeDirectory({}), os.homedir());
});
