// Several processes on one dataPath: kill -9 while writing (20 times), and two processes that
// request one task at once. Children run the compiled fixture
// .build/test/fixtures/storage-writer.js; synchronisation is by their stdout lines, never by sleeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { StorageManager } from '../../../src/storage/storage-manager.js';
import { builtFixturePath } from '../../harness/paths.js';
import { readAll, taskIdOf, tmpDir } from './helpers.js';

const fixture = builtFixturePath('storage-writer.js');

interface Child {
  proc: ChildProcessWithoutNullStreams;
  /** Resolves with the first stdout line matching `re` (lines already seen included). */
  waitFor(re: RegExp): Promise<string>;
  lines: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  onLine(f: (l: string) => void): void;
}

function start(args: Record<string, unknown>): Child {
  const proc = spawn(process.execPath, [fixture, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const listeners: ((l: string) => void)[] = [];
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: proc.stdout }).on('line', (l) => {
    lines.push(l);
    for (const f of listeners) f(l);
    for (const w of [...waiters]) {
      if (!w.re.test(l)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(l);
    }
  });
  proc.stdin.on('error', () => {}); // writes after a kill
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  void exit.then(({ code }) => {
    for (const w of waiters) w.resolve(`exit ${code}: ${stderr}`);
  });
  return {
    proc,
    lines,
    exit,
    // Lines that arrived before the listener (readline emits a whole chunk's lines at once) are replayed.
    onLine: (f) => {
      for (const l of [...lines]) f(l);
      listeners.push(f);
    },
    waitFor: (re) => {
      const seen = lines.find((l) => re.test(l));
      return seen !== undefined ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ re, resolve }));
    },
  };
}

test('kill -9 while writing pieces, 20 times: no entry is ever served with wrong bytes; resumes keep verified pieces', async (t) => {
  const dir = tmpDir(t);
  const dataPath = path.join(dir, 'data');
  const source = path.join(dir, 'source.bin');
  const bytes = randomBytes(64 * 64 * 1024);
  await fsp.writeFile(source, bytes);
  const taskId = taskIdOf('oras://r/crash:latest');
  let resumedWithPieces = 0;
  let completedRuns = 0;
  let prevResumed = 0;
  for (let run = 0; run < 20; run++) {
    const c = start({ mode: 'write', dataPath, taskId, source, pieceSize: 64 * 1024, ackEach: true });
    const resumed = Number((await c.waitFor(/^resumed /)).split(' ')[1]);
    if (resumed > 0) resumedWithPieces++;
    // Progress is persisted atomically and only names pieces already written: what a run resumed
    // with is never less than what the previous one did.
    assert.ok(resumed >= prevResumed, `run ${run}: resumed ${resumed} < ${prevResumed}`);
    prevResumed = resumed;
    const remaining = 64 - resumed;
    // Kill right after acknowledging the k-th piece: the child is then somewhere inside writing,
    // hashing, recording or persisting the next one.
    const k = remaining > 0 ? randomInt(1, remaining + 1) : 0;
    let count = 0;
    c.onLine((l) => {
      if (!l.startsWith('piece ')) return;
      count++;
      c.proc.stdin.write('\n');
      if (count === k) c.proc.kill('SIGKILL');
    });
    if (k === 0) c.proc.kill('SIGKILL');
    const ex = await c.exit;
    if (ex.code === 0) completedRuns++;
    else assert.equal(ex.signal, 'SIGKILL', c.lines.join('\n'));
    // Reopen (reload + cleanup) and check that whatever is offered is byte-exact.
    const s = await StorageManager.open({ dataPath, gcInterval: 0, multiplex: true });
    const hit = await s.findCompleted({ taskId });
    if (hit) {
      const out = path.join(dir, `out-${run}.sif`);
      await s.materialize(hit, out);
      assert.deepEqual(await readAll(out), bytes, `run ${run}: served wrong bytes`);
      await fsp.rm(out);
    }
    await s.close();
    if (hit) break; // completed: nothing left to interrupt
  }
  // Finish (or reuse) and check the final bytes.
  const s = await StorageManager.open({ dataPath, gcInterval: 0, multiplex: true });
  t.after(() => s.close());
  let hit = await s.findCompleted({ taskId });
  if (!hit) {
    const c = start({ mode: 'write', dataPath, taskId, source, pieceSize: 64 * 1024 });
    assert.equal((await c.exit).code, 0);
    hit = await s.findCompleted({ taskId });
  }
  assert.ok(hit);
  await s.materialize(hit, path.join(dir, 'final.sif'));
  assert.deepEqual(await readAll(path.join(dir, 'final.sif')), bytes);
  assert.ok(resumedWithPieces > 0 || completedRuns > 0, 'at least one run must have resumed from persisted pieces');
  // Only one entry directory for the task: resumes continued the interrupted entry.
  assert.equal((await fsp.readdir(path.join(dataPath, taskId))).length, 1);
});

test('two processes request one task at once: one writes, the other waits and reuses; both outputs share one inode', async (t) => {
  const dir = tmpDir(t);
  const dataPath = path.join(dir, 'data');
  const source = path.join(dir, 'source.bin');
  const bytes = randomBytes(32 * 64 * 1024);
  await fsp.writeFile(source, bytes);
  const taskId = taskIdOf('oras://r/race:latest');
  const a = start({ mode: 'pull', dataPath, taskId, source, pieceSize: 64 * 1024, output: path.join(dir, 'a.sif') });
  const b = start({ mode: 'pull', dataPath, taskId, source, pieceSize: 64 * 1024, output: path.join(dir, 'b.sif') });
  t.after(() => {
    a.proc.kill('SIGKILL');
    b.proc.kill('SIGKILL');
  });
  await Promise.all([a.waitFor(/^ready$/), b.waitFor(/^ready$/)]);
  a.proc.stdin.write('go\n');
  await a.waitFor(/^locked$/); // A holds the task lock
  b.proc.stdin.write('go\n');
  await b.waitFor(/^waiting$/); // B found it held by a live process
  a.proc.stdin.write('continue\n');
  const [da, db] = await Promise.all([a.waitFor(/^done /), b.waitFor(/^done /)]);
  assert.equal(da, 'done link write');
  assert.equal(db, 'done link reuse');
  const [sa, sb] = await Promise.all([fsp.stat(path.join(dir, 'a.sif')), fsp.stat(path.join(dir, 'b.sif'))]);
  assert.equal(sa.ino, sb.ino);
  assert.equal(sa.nlink, 3); // a.sif, b.sif, the store's data
  assert.deepEqual(await readAll(path.join(dir, 'b.sif')), bytes);
  assert.equal((await fsp.readdir(path.join(dataPath, taskId))).length, 1);
  assert.deepEqual([(await a.exit).code, (await b.exit).code], [0, 0]);
});
