#!/usr/bin/env node
/**
 * The `orasfly` executable: runs the bundled command (`orasfly-main.cjs` beside it) through V8's
 * code cache. A reuse pull is start-up bound, and Node 20 compiles a command's JavaScript afresh at
 * every start (it has no `module.enableCompileCache`): with the bytecode of an earlier reuse the
 * command starts ~20 ms sooner. The cache is this process's own start-up trick, so it lives here and
 * in `compile-cache.ts`, never in the library. `ORASFLY_COMPILE_CACHE=off` turns it off.
 *
 * The build puts a shell line before this file's JavaScript (`deferred-extra-ca.ts`): run as an
 * executable, it keeps `NODE_EXTRA_CA_CERTS` from Node's start-up, then execs Node on this file.
 *
 * @module
 * @internal
 */
import { subscribe } from 'node:diagnostics_channel';
import { isAscii } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import {
  compileCacheDir,
  compileCacheFile,
  readCompileCache,
  REUSE_CHANNEL,
  writeCompileCache,
} from './compile-cache.js';
import { UNDICI_LOAD_CHANNEL } from '../http/lazy-undici.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const main = path.join(here, 'orasfly-main.cjs');
// CommonJS's own wrapper, so that the bundle sees the usual module scope.
const bytes = readFileSync(main);
// The bundle is ASCII (esbuild escapes the rest): a one-byte string is a copy, not a UTF-8 decode.
const text = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
const source = `(function (exports, require, module, __filename, __dirname) { ${text.replace(/^#!.*/, '')}\n})`;
// The cache is only ever a faster start: nothing about it may stop the command.
let file: string | undefined;
let cachedData: Buffer | undefined;
try {
  const dir = compileCacheDir(process.env);
  file = dir === undefined ? undefined : compileCacheFile(dir, bytes);
  cachedData = file === undefined ? undefined : readCompileCache(file);
} catch {
  file = undefined;
}
const script = new Script(source, { filename: main, cachedData });
const used = cachedData !== undefined && !script.cachedDataRejected;
if (/(^|[\s,])(\*|orasfly(:\*|\*|:launcher))($|[\s,])/.test(process.env['DEBUG'] ?? ''))
  process.stderr.write(
    `orasfly:launcher code cache ${file ?? 'off'}: ${file === undefined ? 'disabled' : used ? 'used' : cachedData ? 'rejected by V8' : 'none yet'}\n`,
  );
if (file !== undefined && !used) {
  const target = file;
  // bin.ts changes a V8 flag when undici loads, and V8 refuses a cache made under other flags than
  // its own: a run that loaded undici saves nothing.
  let flagsChanged = false;
  subscribe(UNDICI_LOAD_CHANNEL, () => (flagsChanged = true));
  // Saved at exit, so that it holds everything the reuse compiled, down to the last result line.
  const save = (): void => {
    process.once('exit', () => flagsChanged || writeCompileCache(target, script.createCachedData()));
  };
  subscribe(REUSE_CHANNEL, save);
}
const run = script.runInThisContext() as (
  exports: unknown,
  require: NodeJS.Require,
  module: { exports: unknown },
  filename: string,
  dirname: string,
) => void;
const mod = { exports: {} };
run.call(mod.exports, mod.exports, createRequire(main), mod, main, here);
