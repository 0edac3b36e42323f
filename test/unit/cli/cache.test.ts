import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, truncateSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCacheCommand } from '../../../src/cli/cache.js';
import { StorageManager } from '../../../src/storage/storage-manager.js';
import { completeTask } from '../storage/store-fixture.js';
import { captureIo } from './io.js';

test('cache list of a store that does not exist says so and creates nothing; an unknown command exits 1 naming the commands', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-cache-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = path.join(dir, 'store');
  const text = captureIo(dir);
  assert.equal(await runCacheCommand(['list', '--datadir', store], text.io), 0);
  assert.match(text.out(), /^no task store at .*store\n$/);
  assert.equal(existsSync(store), false);
  const json = captureIo(dir);
  assert.equal(await runCacheCommand(['list', '--json', '--datadir', store], json.io), 0);
  assert.deepEqual(JSON.parse(json.out()), { dataPath: store, entries: [] });
  const bad = captureIo(dir);
  assert.equal(await runCacheCommand(['polish', '--datadir', store], bad.io), 1);
  assert.match(bad.err(), /unknown cache command "polish" \(use list, verify, gc or clean\)/);
});

test('cache verify names an entry whose metadata cannot be read, removes it, and counts it on its summary line', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-cache-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = path.join(dir, 'store');
  const s = await StorageManager.open({ dataPath: store }, { gcTimer: false });
  const e = await completeTask(s, Buffer.alloc(100_000, 7));
  await s.close();
  truncateSync(path.join(store, e.taskId, e.peerId, 'metadata'), 300);
  const text = captureIo(dir);
  assert.equal(await runCacheCommand(['verify', '--datadir', store], text.io), 0, text.err());
  const key = `${e.taskId}/${e.peerId}`;
  assert.match(text.out(), new RegExp(`^removed ${key}: unreadable metadata \\(corrupt metadata .*\\)$`, 'm'));
  assert.match(text.out(), /^verified 0 entries: 0 ok, 0 removed, 1 unreadable removed$/m);
  assert.equal(existsSync(path.join(store, e.taskId, e.peerId)), false);
});

test('cache flag errors are short, with the closest flag; an empty path or selector is refused', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-cache-flags-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const typo = captureIo(dir);
  assert.equal(await runCacheCommand(['list', '--dryrun'], typo.io), 1);
  assert.match(typo.err(), /^Error: unknown flag --dryrun \(did you mean --dry-run\?\)\n/);
  const empty = captureIo(dir);
  assert.equal(await runCacheCommand(['list', '--datadir', ''], empty.io), 1);
  assert.match(empty.err(), /--datadir is empty/);
  const store = path.join(dir, 'store');
  const s = await StorageManager.open({ dataPath: store }, { gcTimer: false });
  await completeTask(s, Buffer.alloc(1000, 1));
  await s.close();
  const blank = captureIo(dir);
  assert.equal(await runCacheCommand(['clean', '--datadir', store, ''], blank.io), 1);
  assert.match(blank.err(), /a selector is empty/);
  // With --json, a usage error is also a JSON object on stdout.
  const jsonTypo = captureIo(dir);
  assert.equal(await runCacheCommand(['list', '--jsn', '--json'], jsonTypo.io), 1);
  assert.equal((JSON.parse(jsonTypo.out()) as { error: { kind: string } }).error.kind, 'usage');
  const noCommand = captureIo(dir);
  assert.equal(await runCacheCommand(['--json'], noCommand.io), 1);
  assert.match((JSON.parse(noCommand.out()) as { error: { message: string } }).error.message, /a command is needed/);
  // A missing store matches no named entry, and says which.
  const gone = captureIo(dir);
  assert.equal(await runCacheCommand(['clean', '--json', '--datadir', path.join(dir, 'none'), 'abcdef12'], gone.io), 1);
  assert.deepEqual((JSON.parse(gone.out()) as { unmatched: string[] }).unmatched, ['abcdef12']);
  // No selector at all (an unquoted unset variable): nothing is removed without --all.
  const none = captureIo(dir);
  assert.equal(await runCacheCommand(['clean', '--datadir', store], none.io), 1);
  assert.match(none.err(), /clean needs the entries to remove .* or --all/);
  const both = captureIo(dir);
  assert.equal(await runCacheCommand(['clean', '--all', '--datadir', store, 'sha256:abcdef'], both.io), 1);
  assert.match(both.err(), /--all removes every entry: give it no references/);
  const list = captureIo(dir);
  assert.equal(await runCacheCommand(['list', '--json', '--datadir', store], list.io), 0);
  assert.equal((JSON.parse(list.out()) as { entries: unknown[] }).entries.length, 1, 'the entry is still there');
  // dfget's --cachedir names the store too.
  const alias = captureIo(dir);
  assert.equal(await runCacheCommand(['list', '--json', '--cachedir', store], alias.io), 0);
  assert.equal((JSON.parse(alias.out()) as { entries: unknown[] }).entries.length, 1);
});
