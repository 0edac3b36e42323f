// The README's demo command replays the seed walkthrough end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../harness/paths.js';

test('npm run demo: two refs to one blob end as one inode, and core.log has the done line', async () => {
  const proc = spawn(process.execPath, [path.join(repoRoot, 'scripts', 'demo.mjs')], {
    cwd: repoRoot,
    env: { ...process.env, ORASFLY_DEMO_NO_BUILD: '1', DEMO_SIZE_MIB: '16' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d));
  proc.stderr.on('data', (d: Buffer) => (out += d));
  const code = await new Promise<number | null>((resolve) => proc.on('close', resolve));
  assert.equal(code, 0, out);
  const inodes = [...out.matchAll(/^(\d+) -rw\S* \d+ +\d+ out\/image[12]$/gm)].map((m) => m[1]);
  assert.equal(inodes.length, 2, out);
  assert.equal(inodes[0], inodes[1], 'one inode for image1 and image2');
  assert.match(out, /same inode: the second pull was a hard link, no blob download/);
  assert.match(out, /"msg":"peer task done, cost: \d+ms"/);
  assert.equal((out.match(/^download success: true, cost: \d+ ms$/gm) ?? []).length, 2);
  assert.match(out, /trailing dot/, 'the seed config is used verbatim');
});
