// 100 downloads started at once in a process allowed 128 open files: they queue for descriptors
// instead of failing with EMFILE (which also read like lock contention before).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { builtFixturePath, pushSif, startRegistry } from '../../harness/index.js';
import { tmpDir } from '../storage/helpers.js';

const MiB = 1024 * 1024;

test('100 concurrent library downloads under ulimit -n 128 all succeed', async (t) => {
  const reg = await startRegistry({ variant: 'anonymous' });
  t.after(() => reg.stop());
  const refs: string[] = [];
  for (let n = 0; n < 20; n++) {
    await pushSif(reg, `fds/img${n}`, 'v1', { size: 1 * MiB, seed: 300 + n });
    refs.push(reg.ref(`fds/img${n}:v1`));
  }
  const dir = tmpDir(t);
  const outDir = path.join(dir, 'out');
  await mkdir(outDir);
  const fixture = builtFixturePath('many-downloads.js');
  const child = spawn(
    'sh',
    [
      '-c',
      'ulimit -n 128 && exec "$0" "$@"',
      process.execPath,
      fixture,
      path.join(dir, 'store'),
      outDir,
      '100',
      ...refs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, err);
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as { ok: number; failed: string[] };
  assert.deepEqual(r.failed.slice(0, 5), []);
  assert.equal(r.ok, 100);
  assert.equal((await readdir(outDir)).length, 100);
});
