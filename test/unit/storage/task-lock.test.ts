import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, promises as fsp, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  acquireTaskLock,
  DEFAULT_LOCK_HEARTBEAT_MS,
  heartbeatFor,
  isStale,
  pidAlive,
  pidNamespace,
} from '../../../src/storage/task-lock.js';
import { LockError } from '../../../src/core/errors.js';

function dir(t: import('node:test').TestContext): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'orasfly-lock-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** The pid of a process that has certainly exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const pid = Number(r.stdout.toString());
  assert.equal(pidAlive(pid), false);
  return pid;
}

test('acquire, tryOnly while held, release, then acquire again', async (t) => {
  const f = path.join(dir(t), 'locks', 'task.lock');
  const a = await acquireTaskLock(f);
  assert.equal(a.waited, false);
  assert.equal(JSON.parse(await fsp.readFile(f, 'utf8')).pid, process.pid);
  assert.equal(await acquireTaskLock(f, { tryOnly: true }), undefined);
  await a.release();
  await a.release(); // idempotent
  const b = await acquireTaskLock(f, { tryOnly: true });
  assert.ok(b);
  await b.release();
  assert.deepEqual(await fsp.readdir(path.dirname(f)), []);
});

test('a waiter gets the lock when the holder releases it and reports that it waited', async (t) => {
  const f = path.join(dir(t), 'task.lock');
  const a = await acquireTaskLock(f);
  let holder = 0;
  const waiting = acquireTaskLock(f, { pollMs: 1, onWait: (h) => (holder = h.pid) });
  const waitedFor = new Promise<void>((resolve) => {
    const check = (): void => void (holder ? resolve() : setImmediate(check));
    check();
  });
  await waitedFor;
  assert.equal(holder, process.pid);
  await a.release();
  const b = await waiting;
  assert.equal(b.waited, true);
  await b.release();
});

test('waiting honours the signal', async (t) => {
  const f = path.join(dir(t), 'task.lock');
  const a = await acquireTaskLock(f);
  const ac = new AbortController();
  const p = acquireTaskLock(f, { signal: ac.signal, pollMs: 1 });
  ac.abort(new Error('stop'));
  await assert.rejects(p, /stop/);
  await a.release();
});

test('a lock whose pid is dead is taken over; of many concurrent waiters exactly one wins', async (t) => {
  const d = dir(t);
  const f = path.join(d, 'task.lock');
  const dead = { pid: deadPid(), hostname: os.hostname(), createdAt: 0, token: 'deadbeef', pidns: pidNamespace() };
  assert.equal(isStale(dead), true);
  await fsp.writeFile(f, JSON.stringify(dead));
  const got = await Promise.all(Array.from({ length: 8 }, () => acquireTaskLock(f, { tryOnly: true })));
  assert.equal(got.filter(Boolean).length, 1);
  const winner = got.find(Boolean)!;
  assert.equal(JSON.parse(await fsp.readFile(f, 'utf8')).token, winner.info.token);
  await winner.release();
  assert.deepEqual(await fsp.readdir(d), []);
});

test('locks from another host, or another pid namespace with this hostname, are never judged stale by pid', () => {
  assert.equal(isStale({ pid: 1, hostname: `${os.hostname()}-other`, createdAt: 0, token: 'x' }), false);
  // A container sharing the host's network (same hostname) but not its pids: its pid means nothing here.
  const dead = deadPid();
  const here = { pid: dead, hostname: os.hostname(), createdAt: 0, token: 'x', pidns: pidNamespace() };
  assert.equal(isStale(here), true);
  assert.equal(isStale({ ...here, pidns: `${pidNamespace()}1` }), false);
  // A lock of a version that did not record its namespace: the heartbeat decides, where namespaces exist.
  const { pidns: _, ...legacy } = here;
  assert.equal(isStale(legacy), pidNamespace() === '');
});

test('a try-only caller (GC) takes over another host’s lock silent for twice the stale time by the clock, never a fresh one', async (t) => {
  const d = dir(t);
  const f = path.join(d, 'gone-host.lock');
  const foreign = { pid: 4242, hostname: `${os.hostname()}-gone`, createdAt: 0, token: 'feedfacefeedface' };
  await fsp.writeFile(f, JSON.stringify(foreign));
  // Fresh: another host's live holder.
  assert.equal(await acquireTaskLock(f, { tryOnly: true, staleMs: 60_000 }), undefined);
  // Silent for a day: a host that never came back.
  const dayAgo = new Date(Date.now() - 24 * 3600_000);
  await fsp.utimes(f, dayAgo, dayAgo);
  const got = await acquireTaskLock(f, { tryOnly: true, staleMs: 60_000 });
  assert.ok(got, 'the dead host’s lock was taken over');
  assert.equal(JSON.parse(await fsp.readFile(f, 'utf8')).token, got.info.token);
  await got.release();
});

test('a waiter behind a claimant that is taking a dead lock over waits (no spin) and honours its timeout', async (t) => {
  const lockPath = path.join(dir(t), 'x.lock');
  // A dead holder on this host, and a live claimant (our parent process) taking it over.
  await fsp.writeFile(
    lockPath,
    JSON.stringify({
      pid: 2147483646,
      hostname: os.hostname(),
      createdAt: Date.now(),
      token: 'deadbeefdeadbeef',
      pidns: pidNamespace(),
    }),
  );
  await fsp.writeFile(
    `${lockPath}.claim.deadbeefdeadbeef.1`,
    JSON.stringify({
      pid: process.ppid,
      hostname: os.hostname(),
      createdAt: Date.now(),
      token: 'claimant',
      pidns: pidNamespace(),
    }),
  );
  const before = process.cpuUsage();
  await assert.rejects(
    acquireTaskLock(lockPath, { timeoutMs: 1000, maxPollMs: 50 }),
    (e: unknown) =>
      e instanceof LockError &&
      /timed out after \d+ s waiting for the task lock .* another waiter is taking it over/.test((e as Error).message),
  );
  const cpu = process.cpuUsage(before);
  // A spin would burn the whole second (0.1.x spun for up to 60 s); polling costs a few ms, and the
  // bound leaves room for this process's GC and JIT on a slow machine.
  assert.ok(cpu.user + cpu.system < 400_000, `spent ${cpu.user + cpu.system} µs of CPU waiting`);
  assert.equal(await acquireTaskLock(lockPath, { tryOnly: true }), undefined, 'tryOnly returns at once too');
});

test('stillHeld() turns false once another process has taken the lock over', async (t) => {
  const lockPath = path.join(dir(t), 'y.lock');
  const l = await acquireTaskLock(lockPath);
  assert.equal(await l.stillHeld(), true);
  await fsp.writeFile(
    lockPath,
    JSON.stringify({ pid: 1, hostname: 'elsewhere', createdAt: Date.now(), token: 'theirs' }),
  );
  assert.equal(await l.stillHeld(), false);
  await l.release();
  assert.match(await fsp.readFile(lockPath, 'utf8'), /theirs/, 'release never removes a lock that is not ours');
});

test('out of file descriptors, creating a lock says so (EMFILE), not that the lock is contended', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-lock-emfile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lockModule = new URL('../../../src/storage/task-lock.js', import.meta.url).href;
  // A child with 64 descriptors opens files until none is left, then asks for a lock.
  const script = `
    import { openSync } from 'node:fs';
    const { acquireTaskLock } = await import(${JSON.stringify(lockModule)});
    const held = [];
    try { for (;;) held.push(openSync(${JSON.stringify(path.join(dir, 'f'))}, 'a')); } catch {}
    try { await acquireTaskLock(${JSON.stringify(path.join(dir, 'locks', 't.lock'))}); console.log('acquired'); }
    catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }`;
  const r = spawnSync('sh', ['-c', 'ulimit -n 64 && exec "$0" --input-type=module -e "$1"', process.execPath, script], {
    encoding: 'utf8',
  });
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { name: string; code: string; message: string };
  assert.equal(out.code, 'ERR_ORASFLY_STORAGE', r.stderr);
  assert.match(
    out.message,
    /too many open files \(EMFILE\) creating the task lock .*ulimit -n.*maxConcurrentDownloads/,
  );
});

test('the heartbeat is 5 s, or a third of a shorter stale time: a live holder beats several times before it looks dead', () => {
  assert.equal(heartbeatFor(60_000), DEFAULT_LOCK_HEARTBEAT_MS);
  assert.equal(heartbeatFor(15_000), 5_000);
  assert.equal(heartbeatFor(1_000), 333);
});
