// The source-file rules of `npm run lint`: every file of src/ opens with a comment naming its job
// (scripts/check-opening-comments.mjs; a file without one, or with a one-word one, fails) and has at
// most 500 lines (scripts/check-file-size.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../harness/paths.js';

const script = path.join(repoRoot, 'scripts', 'check-opening-comments.mjs');

function check(files: Record<string, string>): { code: number | null; stderr: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-comments-'));
  try {
    for (const [rel, text] of Object.entries(files)) writeFileSync(path.join(dir, rel), text);
    const r = spawnSync(process.execPath, [script, dir], { encoding: 'utf8' });
    return { code: r.status, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('every file of src/ opens with a comment naming its job', () => {
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('a block, // lines or a comment after a shebang pass; none, or a one-word comment, fail', () => {
  const job = 'Parses the registry answer into a manifest and checks its size.';
  assert.equal(check({ 'a.ts': `/**\n * ${job}\n *\n * @module\n */\nexport {};\n` }).code, 0);
  assert.equal(check({ 'b.ts': `#!/usr/bin/env node\n// ${job}\nexport {};\n` }).code, 0);
  const none = check({ 'c.ts': `import x from 'y';\n/** ${job} */\nexport { x };\n` });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /c\.ts: does not open with a comment/);
  const short = check({ 'd.ts': '/** Utils. @module */\nexport {};\n' });
  assert.equal(short.code, 1);
  assert.match(short.stderr, /d\.ts: the opening comment is too short/);
});

test('no file of src/ is over 500 lines; a longer one fails the check, naming it', () => {
  const size = path.join(repoRoot, 'scripts', 'check-file-size.mjs');
  const real = spawnSync(process.execPath, [size], { encoding: 'utf8' });
  assert.equal(real.status, 0, real.stderr);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-size-'));
  try {
    writeFileSync(path.join(dir, 'ok.ts'), 'x\n'.repeat(500));
    writeFileSync(path.join(dir, 'big.ts'), 'x\n'.repeat(501));
    const r = spawnSync(process.execPath, [size, dir], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim(), 'big.ts: 501 lines, over 500: split it by job');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
