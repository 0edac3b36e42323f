import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../../../src/version.js';

// The entry point as Node runs it: exit codes come from runCli, the V8 flag is the process's own.
const bin = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'cli', 'bin.js');

test('the executable prints the version and exits 0; a flag error exits 1', () => {
  const ok = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, `orasfly version: ${VERSION}\n`);
  const bad = spawnSync(process.execPath, [bin, '--no-such-flag'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /unknown flag --no-such-flag/);
});
