// The home directory lookup shared by the CLI's defaults, the credential files and the code cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { homeDirectory, xdgDirectory } from '../../../src/internal/home-dir.js';

test('an absolute HOME wins; an empty or relative one falls back to the passwd entry', () => {
  assert.equal(homeDirectory({ HOME: '/somewhere/else' }), '/somewhere/else');
  const entry = os.userInfo().homedir;
  assert.equal(homeDirectory({}), entry);
  assert.equal(homeDirectory({ HOME: '' }), entry);
  assert.equal(homeDirectory({ HOME: 'relative/home' }), entry);
  // No HOME and no passwd entry at all: covered as a stranger uid by test/integration/cli/no-home.
});

test('an XDG variable counts only when absolute', () => {
  assert.equal(xdgDirectory({ XDG_DATA_HOME: '/x/data' }, 'XDG_DATA_HOME'), '/x/data');
  assert.equal(xdgDirectory({ XDG_DATA_HOME: 'x/data' }, 'XDG_DATA_HOME'), undefined);
  assert.equal(xdgDirectory({}, 'XDG_DATA_HOME'), undefined);
});
