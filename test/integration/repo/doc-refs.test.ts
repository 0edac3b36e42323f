// The docs check of `npm run lint` (scripts/check-doc-refs.mjs) catches what it promises: a test or
// source path that does not exist, a removed API name, a member an export does not have; it passes
// real names and paths; and the real README.md and docs/*.md pass it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../harness/paths.js';

const script = path.join(repoRoot, 'scripts', 'check-doc-refs.mjs');

/** Runs the check on a tree with the real src/ and test/harness/ and the given guide. */
function check(guide: string): { code: number | null; stderr: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-doc-refs-'));
  try {
    symlinkSync(path.join(repoRoot, 'src'), path.join(dir, 'src'));
    mkdirSync(path.join(dir, 'test', 'unit', 'http'), { recursive: true });
    writeFileSync(path.join(dir, 'test', 'unit', 'http', 'undici-modules.test.ts'), '');
    symlinkSync(path.join(repoRoot, 'test', 'harness'), path.join(dir, 'test', 'harness'));
    mkdirSync(path.join(dir, 'docs'));
    writeFileSync(path.join(dir, 'README.md'), '# x\n');
    writeFileSync(path.join(dir, 'docs', 'guide.md'), guide);
    const r = spawnSync(process.execPath, [script, dir], { encoding: 'utf8' });
    return { code: r.status, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('real names and paths pass: exports, their members, errors, internal parts, option keys, foreign names', () => {
  const r = check(
    [
      '`StorageManager`, `OrasResourceClient.resolve`, `StorageManager.open(options)`, `createDownloader()`,',
      '`DownloadRequest.signal`, `errors`, `DigestMismatchError`, `GcScheduler` (internal), `taskExpireTime`,',
      '`AbortSignal`, `ERR_ORASFLY_TIMEOUT`, `test/unit/http/undici-modules.test.ts`, `src/storage/gc.ts`.',
    ].join('\n'),
  );
  assert.equal(r.code, 0, r.stderr);
});

test('a wrong test path, a removed name and a missing member each fail, naming the document and line', () => {
  const r = check(
    [
      'Guarded by `test/unit/source/oras/undici-modules.test.ts`.',
      'Add one with `registerResourceClient()` on the `ResourceClientRegistry`.',
      'Then `OrasResourceClient.fetchEverything`.',
    ].join('\n'),
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /docs\/guide\.md:1: test\/unit\/source\/oras\/undici-modules\.test\.ts does not exist/);
  assert.match(r.stderr, /docs\/guide\.md:2: `registerResourceClient\(\)` is neither exported nor declared/);
  assert.match(r.stderr, /docs\/guide\.md:2: `ResourceClientRegistry` is neither exported nor declared/);
  assert.match(r.stderr, /docs\/guide\.md:3: `OrasResourceClient\.fetchEverything`: OrasResourceClient has no member/);
});

test('the README and docs/*.md name only paths and API names that exist', () => {
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
