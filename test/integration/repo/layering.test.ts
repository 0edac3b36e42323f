// The layering rule of `npm run lint` (scripts/check-layering.mjs) catches what it promises: an
// upward import (type-only and dynamic ones too), a circle of files, and a part missing from the
// stack; and the real tree passes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../harness/paths.js';

const script = path.join(repoRoot, 'scripts', 'check-layering.mjs');

function check(files: Record<string, string>): { code: number | null; stderr: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-layering-'));
  try {
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), text);
    }
    const r = spawnSync(process.execPath, [script, dir], { encoding: 'utf8' });
    return { code: r.status, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the source tree is one-way and has no import cycle', () => {
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('upward imports fail, whether value, type-only or dynamic', () => {
  for (const line of [
    "import { x } from '../storage/a.js';",
    "import type { X } from '../storage/a.js';",
    "export type { X } from '../storage/a.js';",
    "export const f = () => import('../storage/a.js');",
  ]) {
    const r = check({ 'core/b.ts': line + '\n', 'storage/a.ts': 'export const x = 1;\n' });
    assert.equal(r.code, 1, line);
    assert.match(r.stderr, /src\/core\/b\.ts: imports storage\/a\.ts — "core" sits below "storage"/, line);
  }
});

test('a downward import passes; a circle inside one part fails and is named', () => {
  assert.equal(check({ 'storage/a.ts': "import type { X } from '../core/b.js';\n", 'core/b.ts': '' }).code, 0);
  const r = check({
    'conductor/a.ts': "import type { B } from './b.js';\nexport type A = 1;\n",
    'conductor/b.ts': "export const load = () => import('./a.js');\nexport type B = 2;\n",
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /import cycle: src\/conductor\/a\.ts → src\/conductor\/b\.ts → src\/conductor\/a\.ts/);
});

test('a part that is not in the stack must be placed there first', () => {
  const r = check({ 'gadgets/a.ts': 'export const a = 1;\n' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /"gadgets" is not in the stack/);
});
