// The task store across CLI processes, against a real registry: copies do not pile up with no config,
// taskExpireTime and diskGCThreshold hold after later runs, the cache commands, and locks left by
// another host (written by hand, and held by a process in another UTS namespace, then killed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, mkdir, writeFile, readdir, stat, utimes, open, readFile, watch } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import {
  builtFixturePath,
  startRegistry,
  pushSif,
  type RunningRegistry,
  type PushedArtifact,
} from '../../harness/index.js';
import { sha256File } from '../conductor/helpers.js';
import { lastJson, runCli, type CliRun } from './run-cli.js';

const fixture = builtFixturePath('storage-writer.js');
const MiB = 1024 * 1024;

let reg: RunningRegistry;
const imgs: PushedArtifact[] = [];
let dir: string;
before(async () => {
  reg = await startRegistry({ variant: 'anonymous' });
  for (let i = 0; i < 3; i++) imgs.push(await pushSif(reg, `life/img${i}`, 'v1', { size: 4 * MiB + i, seed: 40 + i }));
  dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-life-'));
});
after(async () => {
  await reg?.stop();
  await rm(dir, { recursive: true, force: true, maxRetries: 10 });
});

const run = (args: string[], opts: Parameters<typeof runCli>[2] = {}): Promise<CliRun> => runCli(dir, args, opts);

const gcRounds = async (logFile: string): Promise<number> =>
  ((await readFile(logFile, 'utf8').catch(() => '')).match(/gc round done/g) ?? []).length;

/**
 * A pull hands a due GC round to a detached `orasfly cache gc`, which logs `gc round done` to
 * core.log when it is over: wait for that line (file events, no polling sleeps).
 */
async function waitForGcRound(logFile: string, before: number): Promise<void> {
  await mkdir(path.dirname(logFile), { recursive: true });
  const ac = new AbortController();
  const safety = setTimeout(() => ac.abort(), 30_000);
  try {
    const events = watch(path.dirname(logFile), { signal: ac.signal });
    if ((await gcRounds(logFile)) > before) return;
    for await (const _ of events) if ((await gcRounds(logFile)) > before) return;
  } catch (e) {
    if (!ac.signal.aborted) throw e;
  } finally {
    clearTimeout(safety);
    ac.abort();
  }
  assert.fail(`no gc round was logged to ${logFile}`);
}

/** Distinct data inodes in the store (what the store holds on disk). */
async function storeInodes(store: string): Promise<{ inodes: Set<number>; entries: number }> {
  const inodes = new Set<number>();
  let entries = 0;
  for (const t of (await readdir(store).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{64}$/.test(n))) {
    for (const p of await readdir(path.join(store, t))) {
      entries++;
      inodes.add((await stat(path.join(store, t, p, 'data'))).ino);
    }
  }
  return { inodes, entries };
}

test('with no config, 4 pulls of one ref leave one copy of the blob in the store', async () => {
  const store = path.join(dir, 'noconf');
  for (let i = 0; i < 4; i++) {
    const r = await run([
      '-u',
      reg.ref('life/img0:v1'),
      '-O',
      path.join(dir, 'noconf-out', `${i}.sif`),
      '--datadir',
      store,
      '--json',
      '--logdir',
      path.join(dir, 'log'),
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(lastJson(r).reused, i > 0);
  }
  const { inodes, entries } = await storeInodes(store);
  assert.equal(entries, 1);
  assert.equal(inodes.size, 1);
});

test('an entry unused for longer than taskExpireTime is gone after a later run; diskGCThreshold holds after a run', async () => {
  const store = path.join(dir, 'expire');
  const cfg = path.join(dir, 'expire.yaml');
  // An hour, with the old entry's last use set back two: a slow machine's seconds between a pull and
  // its GC round never expire the entry just pulled.
  await writeFile(cfg, `storage:\n  taskExpireTime: 1h\n  gcInterval: 1ms\n`);
  const logs = path.join(dir, 'log-expire');
  const coreLog = path.join(logs, 'dfget', 'core.log');
  const common = ['--datadir', store, '--config', cfg, '--json', '--logdir', logs];
  assert.equal(
    (await run(['-u', reg.ref('life/img0:v1'), '-O', path.join(dir, 'expire-out', 'a.sif'), ...common])).code,
    0,
  );
  await waitForGcRound(coreLog, 0);
  // "Unused for longer than an hour" without waiting: the last access is the metadata mtime.
  const [task] = (await readdir(store)).filter((n) => /^[0-9a-f]{64}$/.test(n));
  const [peer] = await readdir(path.join(store, task!));
  const old = new Date(Date.now() - 2 * 3_600_000);
  await utimes(path.join(store, task!, peer!, 'metadata'), old, old);
  const rounds = await gcRounds(coreLog);
  const r = await run(['-u', reg.ref('life/img1:v1'), '-O', path.join(dir, 'expire-out', 'b.sif'), ...common]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  await waitForGcRound(coreLog, rounds);
  const left = (await readdir(store)).filter((n) => /^[0-9a-f]{64}$/.test(n));
  assert.ok(!left.includes(task!), 'the expired entry was collected by the later run');
  assert.equal(left.length, 1);
  assert.equal(
    await sha256File(path.join(dir, 'expire-out', 'a.sif')),
    imgs[0]!.layer.digest,
    'the output survives its entry',
  );

  const qstore = path.join(dir, 'quota');
  const qcfg = path.join(dir, 'quota.yaml');
  await writeFile(qcfg, `storage:\n  diskGCThreshold: 6Mi\n  gcInterval: 1ms\n`);
  const qlog = path.join(dir, 'log-quota', 'dfget', 'core.log');
  for (let i = 0; i < 3; i++) {
    const before = await gcRounds(qlog);
    const q = await run([
      '-u',
      reg.ref(`life/img${i}:v1`),
      '-O',
      path.join(dir, 'quota-out', `${i}.sif`),
      '--datadir',
      qstore,
      '--config',
      qcfg,
      '--json',
      '--logdir',
      path.join(dir, 'log-quota'),
    ]);
    assert.equal(q.code, 0, q.stdout + q.stderr);
    await waitForGcRound(qlog, before);
    let sum = 0;
    for (const t of (await readdir(qstore)).filter((n) => /^[0-9a-f]{64}$/.test(n)))
      for (const p of await readdir(path.join(qstore, t))) sum += (await stat(path.join(qstore, t, p, 'data'))).size;
    assert.ok(sum <= 6 * MiB, `after run ${i} the store holds ${sum} bytes, over the 6 MiB quota`);
  }
});

test('cache list, verify, gc and clean; an altered data file is reported and removed, and the next pull downloads afresh', async () => {
  const store = path.join(dir, 'cache');
  const common = ['--datadir', store, '--logdir', path.join(dir, 'log')];
  for (let i = 0; i < 2; i++)
    assert.equal(
      (await run(['-u', reg.ref(`life/img${i}:v1`), '-O', path.join(dir, 'cache-out', `${i}.sif`), ...common])).code,
      0,
    );
  const list = await run(['cache', 'list', '--json', ...common]);
  assert.equal(list.code, 0, list.stderr);
  const entries = (
    lastJson(list).entries as {
      url: string;
      digest: string;
      size: number;
      state: string;
      nlink: number;
      taskId: string;
    }[]
  ).sort((a, b) => a.url.localeCompare(b.url));
  assert.deepEqual(
    entries.map((e) => [e.url, e.digest, e.size, e.state]),
    imgs.slice(0, 2).map((img, i) => [reg.ref(`life/img${i}:v1`), img.layer.digest, 4 * MiB + i, 'complete']),
  );
  assert.ok(
    entries.every((e) => e.nlink === 2),
    'store data + the output',
  );
  const text = await run(['cache', 'list', ...common]);
  assert.match(text.stdout, /^There are 2 entries using 8\.0 MiB/m);
  assert.match(text.stdout, /TASK ID\s+DIGEST\s+SIZE\s+LAST ACCESS\s+LINKS\s+STATE\s+REFERENCE/);

  // Alter entry 0's data in place after completion (same size, other bytes).
  const [p0] = await readdir(path.join(store, entries[0]!.taskId));
  const fh = await open(path.join(store, entries[0]!.taskId, p0!, 'data'), 'r+');
  await fh.write(Buffer.from('tampered'), 0, 8, 1000);
  await fh.close();
  const ver = await run(['cache', 'verify', '--json', ...common]);
  assert.equal(ver.code, 0, ver.stderr);
  const vr = lastJson(ver) as { checked: number; removed: { key: string; reason: string }[] };
  assert.equal(vr.checked, 2);
  assert.deepEqual(
    vr.removed.map((x) => x.key.split('/')[0]),
    [entries[0]!.taskId],
  );
  const again = await run([
    '-u',
    reg.ref('life/img0:v1'),
    '-O',
    path.join(dir, 'cache-out', 'again.sif'),
    '--json',
    ...common,
  ]);
  assert.equal(again.code, 0);
  assert.equal(lastJson(again).reused, false, 'downloaded afresh');
  assert.equal(await sha256File(path.join(dir, 'cache-out', 'again.sif')), imgs[0]!.layer.digest);

  const dry = await run(['cache', 'gc', '--dry-run', '--json', ...common]);
  assert.equal(dry.code, 0);
  assert.equal((lastJson(dry) as { dryRun: boolean }).dryRun, true);

  // An id that matches nothing is an error that says so, and removes nothing.
  const typo = await run(['cache', 'clean', 'sha256:000000000000', ...common]);
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, /no entry matches "sha256:000000000000"/);
  // The short task id `cache list` prints names its entry.
  const listed = (await run(['cache', 'list', ...common])).stdout;
  const short0 = entries[0]!.taskId.slice(0, 12);
  assert.ok(listed.includes(short0), listed);
  const byShortId = await run(['cache', 'clean', short0, '--json', ...common]);
  assert.equal(byShortId.code, 0, byShortId.stderr);
  assert.equal((lastJson(byShortId) as { removed: string[] }).removed.length, 1);
  // clean by the short digest `cache list` prints removes exactly that entry; clean with no selector removes the rest.
  const one = await run(['cache', 'clean', imgs[1]!.layer.digest.slice(0, 19), '--json', ...common]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal((lastJson(one) as { removed: string[] }).removed.length, 1);
  // No selector at all (`cache clean $REF` with the variable unset) removes nothing: --all says so.
  const before = await readdir(store);
  const unset = await run(['cache', 'clean', ...common]);
  assert.equal(unset.code, 1);
  assert.match(unset.stderr, /or --all to remove every entry/);
  assert.deepEqual(await readdir(store), before);
  const rest = await run(['cache', 'clean', '--all', ...common]);
  assert.match(rest.stdout, /removed 0 entries/);
  assert.deepEqual(
    (await readdir(store)).filter((n) => !n.startsWith('.')),
    [],
  );
  // Outputs are never touched by the cache commands.
  assert.equal(await sha256File(path.join(dir, 'cache-out', '1.sif')), imgs[1]!.layer.digest);
});

function lockFileFor(store: string, taskId: string): string {
  return path.join(store, '.locks', `${taskId}.lock`);
}

/** The task id of a pull, as the CLI computes it (taken from a first pull's --json output). */
async function taskIdOf(ref: string, store: string): Promise<string> {
  const r = await run([
    '-u',
    ref,
    '-O',
    path.join(dir, 'probe', `${createHash('sha256').update(store).digest('hex').slice(0, 8)}.sif`),
    '--datadir',
    store,
    '--json',
    '--logdir',
    path.join(dir, 'log'),
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const id = lastJson(r).taskId as string;
  assert.equal((await run(['cache', 'clean', '--all', '--datadir', store])).code, 0);
  return id;
}

test('a lock written as if by another host: the pull reports the holder at once, then takes over after lockStaleTime', async () => {
  const store = path.join(dir, 'foreign');
  const taskId = await taskIdOf(reg.ref('life/img2:v1'), store);
  const cfg = path.join(dir, 'foreign.yaml');
  await writeFile(cfg, `storage:\n  lockStaleTime: 1s\n`);
  await mkdir(path.join(store, '.locks'), { recursive: true });
  await writeFile(
    lockFileFor(store, taskId),
    JSON.stringify({
      pid: 4242,
      hostname: 'node-17.cluster',
      createdAt: Date.now() - 3_600_000,
      token: 'feedfacefeedfacefeedface',
    }),
  );
  let reportedBeforeDone = false;
  const r = await run(
    [
      '-u',
      reg.ref('life/img2:v1'),
      '-O',
      path.join(dir, 'foreign-out', 'x.sif'),
      '--datadir',
      store,
      '--config',
      cfg,
      '--logdir',
      path.join(dir, 'log'),
    ],
    {
      onStderr: (t) => {
        if (/waiting for task [0-9a-f]{12}…: its lock is held by pid 4242 on node-17\.cluster since/.test(t))
          reportedBeforeDone = true;
      },
    },
  );
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok(reportedBeforeDone, r.stderr);
  assert.equal(await sha256File(path.join(dir, 'foreign-out', 'x.sif')), imgs[2]!.layer.digest);
  const core = await readFile(path.join(dir, 'log', 'dfget', 'core.log'), 'utf8');
  assert.match(core, /task lock held by pid 4242 on node-17\.cluster since .*; waiting/);
});

test('a live foreign holder (heartbeat moving) is waited for, and the pull fails with ERR_ORASFLY_LOCK at lockTimeout', async () => {
  const store = path.join(dir, 'foreign-live');
  const taskId = await taskIdOf(reg.ref('life/img2:v1'), store);
  const cfg = path.join(dir, 'foreign-live.yaml');
  await writeFile(cfg, `storage:\n  lockStaleTime: 1h\n  lockTimeout: 1s\n`);
  await mkdir(path.join(store, '.locks'), { recursive: true });
  await writeFile(
    lockFileFor(store, taskId),
    JSON.stringify({
      pid: 4243,
      hostname: 'node-18.cluster',
      createdAt: Date.now(),
      token: 'cafebabecafebabecafebabe',
    }),
  );
  const r = await run([
    '-u',
    reg.ref('life/img2:v1'),
    '-O',
    path.join(dir, 'foreign-live-out', 'x.sif'),
    '--datadir',
    store,
    '--config',
    cfg,
    '--json',
    '--logdir',
    path.join(dir, 'log'),
  ]);
  assert.equal(r.code, 1);
  const j = lastJson(r) as { error: { code: string; message: string } };
  assert.equal(j.error.code, 'ERR_ORASFLY_LOCK');
  assert.match(
    j.error.message,
    /timed out after \d+ s waiting for the task lock .* held by pid 4243 on node-18\.cluster/,
  );
  assert.deepEqual(await readdir(path.join(dir, 'foreign-live-out')).catch(() => []), []);
});

test('a holder in another UTS namespace (another hostname) killed mid-pull: its lock is taken over and only the missing pieces are fetched', async (t) => {
  const store = path.join(dir, 'uts');
  await mkdir(store, { recursive: true });
  const source = path.join(dir, 'uts-source.bin');
  const bytes = Buffer.alloc(6 * 65536);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
  await writeFile(source, bytes);
  const taskId = createHash('sha256').update('uts-task').digest('hex');
  const args = (mode: string) =>
    JSON.stringify({ mode, dataPath: store, taskId, source, pieceSize: 65536, ackEach: true, flushEach: true });
  // The holder: a StorageManager writer in a UTS namespace named other-ns; it stops after one piece.
  const holder: ChildProcess = spawn(
    'unshare',
    ['-u', 'sh', '-c', `hostname other-ns && exec "${process.execPath}" "${fixture}" '${args('write')}'`],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  t.after(() => holder.kill('SIGKILL'));
  const lines = createInterface({ input: holder.stdout! })[Symbol.asyncIterator]();
  const next = async () => String((await lines.next()).value ?? '');
  assert.equal(await next(), 'resumed 0');
  assert.match(await next(), /^piece \d+$/);
  const lock = JSON.parse(await readFile(lockFileFor(store, taskId), 'utf8')) as { hostname: string };
  assert.equal(lock.hostname, 'other-ns');
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  // A second writer here: another host's lock whose heartbeat stopped. It takes over and resumes.
  const second = spawn(
    process.execPath,
    [fixture, JSON.stringify({ mode: 'write', dataPath: store, taskId, source, pieceSize: 65536, staleMs: 1000 })],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const out2: string[] = [];
  for await (const l of createInterface({ input: second.stdout! })) out2.push(l);
  assert.equal(out2[0], 'waiting');
  assert.match(out2[1]!, /^resumed [1-9]/, "the killed holder's verified piece was kept");
  assert.equal(out2.at(-1), 'done none write');
});
