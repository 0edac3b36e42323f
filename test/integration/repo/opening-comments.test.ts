// The opening-comment rule of `npm run lint` (scripts/check-opening-comments.mjs): every file of
// src/ opens with a comment naming its job; a file without one, or with a one-word one, fails.
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
