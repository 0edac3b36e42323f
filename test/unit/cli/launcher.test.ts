// The launcher (src/cli/launcher.ts) around a stand-in command: the command runs with CommonJS's
// module scope, its arguments and exit code; a run that is not a reuse saves no code cache, a reuse
// saves one, and the next run starts from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REUSE_CHANNEL } from '../../../src/cli/compile-cache.js';
import { UNDICI_LOAD_CHANNEL } from '../../../src/http/lazy-undici.js';

const built = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src');
const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-launcher-'));
chmodSync(dir, 0o755); // readable by the uid of the no-HOME test
for (const f of ['cli/launcher.js', 'cli/compile-cache.js', 'internal/home-dir.js', 'http/lazy-undici.js']) {
  mkdirSync(path.join(dir, path.dirname(f)), { recursive: true });
  copyFileSync(path.join(built, f), path.join(dir, f));
}
writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
// The stand-in for orasfly-main.cjs: says what scope it got, announces a reuse when asked, sets an exit code.
writeFileSync(
  path.join(dir, 'cli', 'orasfly-main.cjs'),
  `#!/usr/bin/env node
const dc = require('node:diagnostics_channel');
process.stdout.write(JSON.stringify({ file: __filename, dir: __dirname, exports: typeof module.exports, self: this === module.exports, args: process.argv.slice(2) }));
if (process.argv[3] === '--undici') dc.channel(${JSON.stringify(UNDICI_LOAD_CHANNEL)}).publish({});
if (process.argv[2] === 'reuse') dc.channel(${JSON.stringify(REUSE_CHANNEL)}).publish({});
process.exitCode = 3;
`,
);
const cache = path.join(dir, 'cache');

function run(
  arg: string,
  flag = '--x',
  env: NodeJS.ProcessEnv = { ORASFLY_COMPILE_CACHE: cache },
  prefix: string[] = [],
): { said: string; out: Record<string, unknown>; status: number | null } {
  const argv = [...prefix, process.execPath, path.join(dir, 'cli', 'launcher.js'), arg, flag];
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    env: { ...process.env, DEBUG: 'orasfly:launcher', ...env },
  });
  const said = /orasfly:launcher code cache .*: (.*)/.exec(r.stderr)?.[1] ?? r.stderr;
  return { said, out: JSON.parse(r.stdout) as Record<string, unknown>, status: r.status };
}

test('the command runs in a CommonJS scope with its arguments, and its exit code is the process’s', () => {
  const r = run('download');
  assert.deepEqual(r.out, {
    file: path.join(dir, 'cli', 'orasfly-main.cjs'),
    dir: path.join(dir, 'cli'),
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

test('a run that loaded undici (which changes a V8 flag) saves no cache: V8 would refuse it', () => {
  const other = path.join(dir, 'cache-undici');
  assert.equal(run('reuse', '--undici', { ORASFLY_COMPILE_CACHE: other }).said, 'none yet');
  assert.equal(existsSync(other) ? readdirSync(other).length : 0, 0);
});

test('no HOME (and, as root, a uid with no passwd entry): the command runs, without a cache', () => {
  const env = { HOME: undefined, XDG_CACHE_HOME: undefined, ORASFLY_COMPILE_CACHE: undefined };
  // As root (CI), an arbitrary uid: os.homedir() then has nothing to say, and must not stop the command.
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((f) => existsSync(f));
  const asStranger =
    process.getuid?.() === 0 && setpriv ? [setpriv, '--reuid=54321', '--regid=54321', '--clear-groups'] : [];
  const r = run('download', '--x', env, asStranger);
  assert.equal(r.status, 3);
  assert.deepEqual(r.out['args'], ['download', '--x']);
  if (asStranger.length) assert.equal(r.said, 'disabled');
});
