// The launcher (src/cli/launcher.ts) around a stand-in command: the command runs with CommonJS's
// module scope, its arguments and exit code; a run that is not a reuse saves no code cache, a reuse
// saves one, and the next run starts from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REUSE_CHANNEL } from '../../../src/cli/compile-cache.js';

const built = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'cli');
const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-launcher-'));
for (const f of ['launcher.js', 'compile-cache.js']) copyFileSync(path.join(built, f), path.join(dir, f));
writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
// The stand-in for orasfly-main.cjs: says what scope it got, announces a reuse when asked, sets an exit code.
writeFileSync(
  path.join(dir, 'orasfly-main.cjs'),
  `#!/usr/bin/env node
const dc = require('node:diagnostics_channel');
process.stdout.write(JSON.stringify({ file: __filename, dir: __dirname, exports: typeof module.exports, self: this === module.exports, args: process.argv.slice(2) }));
if (process.argv[2] === 'reuse') dc.channel(${JSON.stringify(REUSE_CHANNEL)}).publish({});
process.exitCode = 3;
`,
);
const cache = path.join(dir, 'cache');

function run(arg: string): { said: string; out: Record<string, unknown>; status: number | null } {
  const r = spawnSync(process.execPath, [path.join(dir, 'launcher.js'), arg, '--x'], {
    encoding: 'utf8',
    env: { ...process.env, ORASFLY_COMPILE_CACHE: cache, DEBUG: 'orasfly:launcher' },
  });
  const said = /orasfly:launcher code cache .*: (.*)/.exec(r.stderr)?.[1] ?? r.stderr;
  return { said, out: JSON.parse(r.stdout) as Record<string, unknown>, status: r.status };
}

test('the command runs in a CommonJS scope with its arguments, and its exit code is the process’s', () => {
  const r = run('download');
  assert.deepEqual(r.out, {
    file: path.join(dir, 'orasfly-main.cjs'),
    dir,
    exports: 'object',
    self: true,
    args: ['download', '--x'],
  });
  assert.equal(r.status, 3);
});

test('no cache from a run that is not a reuse; the first reuse saves one; the next run uses it', () => {
  const files = () => (existsSync(cache) ? readdirSync(cache) : []);
  assert.equal(run('download').said, 'none yet');
  assert.deepEqual(files(), []);
  assert.equal(run('reuse').said, 'none yet');
  assert.equal(files().length, 1);
  assert.equal(run('download').said, 'used');
  assert.equal(run('reuse').said, 'used');
  assert.equal(files().length, 1);
});
