// The CLI against a real registry with hostile local paths: a data dir full of a user's files, outputs
// that are devices or FIFOs or inside the store, `-O dir/`, a --timeout expiry, and Ctrl-C in --json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, mkdir, writeFile, readFile, readdir, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  startRegistry,
  pushSif,
  pushIndex,
  pushArtifact,
  type RunningRegistry,
  type PushedArtifact,
} from '../../harness/index.js';
import { sha256File } from '../conductor/helpers.js';
import { lastJson, runCli, type CliRun } from './run-cli.js';

const MiB = 1024 * 1024;
const isRoot = process.getuid?.() === 0;

let reg: RunningRegistry;
let sif: PushedArtifact;
let dir: string;
before(async () => {
  reg = await startRegistry({ variant: 'anonymous' });
  sif = await pushSif(reg, 'hp/img', 'v1', { size: 3 * MiB + 5, seed: 5 });
  dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-hostile-paths-'));
});
after(async () => {
  await reg?.stop();
  await rm(dir, { recursive: true, force: true, maxRetries: 10 });
});

const run = (args: string[], opts: Parameters<typeof runCli>[2] = {}): Promise<CliRun> => runCli(dir, args, opts);
const json = (r: CliRun) => lastJson<{ success: boolean; error?: { code: string; message: string } }>(r);
/** The argv of a pull of `ref` to `out` with the task store `datadir`, then `flags`, then the shared log dir. */
function pullArgs(ref: string, out: string, datadir: string, ...flags: string[]): string[] {
  return ['-u', ref, '-O', out, '--datadir', datadir, ...flags, '--logdir', path.join(dir, 'log')];
}

test('a non-empty data dir that orasfly did not create is refused and nothing in it is touched', async () => {
  const d = path.join(dir, 'home-like');
  await mkdir(path.join(d, 'projects', 'app'), { recursive: true });
  await writeFile(path.join(d, 'projects', 'app', 'main.c'), 'int main(){}');
  // Shaped like a task dir with a peer dir holding no metadata: the 0.1.0 store deleted exactly this.
  const fake = path.join(d, 'a'.repeat(64), '127.0.0.1-1-x');
  await mkdir(fake, { recursive: true });
  await writeFile(path.join(fake, 'notes.txt'), 'mine');
  const out = path.join(dir, 'o1', 'img.sif');
  const r = await run(pullArgs(reg.ref('hp/img:v1'), out, d, '--json'));
  assert.equal(r.code, 1);
  const j = json(r);
  assert.equal(j.error?.code, 'ERR_ORASFLY_STORAGE');
  assert.match(
    j.error!.message,
    /refusing to use .*home-like as the task store: it is not empty \("projects"\).*no \.orasfly-store marker/,
  );
  assert.equal(await readFile(path.join(d, 'projects', 'app', 'main.c'), 'utf8'), 'int main(){}');
  assert.equal(await readFile(path.join(fake, 'notes.txt'), 'utf8'), 'mine');
  assert.deepEqual((await readdir(d)).sort(), ['a'.repeat(64), 'projects']);
});

test('a marked store never follows a symlinked task dir nor deletes files it did not create', async () => {
  const store = path.join(dir, 'store-sym');
  const out = path.join(dir, 'o2', 'img.sif');
  const ok = await run(pullArgs(reg.ref('hp/img:v1'), out, store));
  assert.equal(ok.code, 0, ok.stderr);
  // A symlink shaped like a task dir, pointing at a user's tree with a peer-shaped dir without metadata.
  const victim = path.join(dir, 'victim');
  await mkdir(path.join(victim, '127.0.0.1-2-y'), { recursive: true });
  await writeFile(path.join(victim, '127.0.0.1-2-y', 'data'), 'precious');
  await symlink(victim, path.join(store, 'b'.repeat(64)));
  // A real task dir with a garbage peer dir that holds a foreign file.
  const garbage = path.join(store, 'c'.repeat(64), '127.0.0.1-3-z');
  await mkdir(garbage, { recursive: true });
  await writeFile(path.join(garbage, 'foreign.txt'), 'keep me');
  const again = await run(pullArgs(reg.ref('hp/img:v1'), path.join(dir, 'o2', 'again.sif'), store));
  assert.equal(again.code, 0, again.stderr);
  assert.equal(await readFile(path.join(victim, '127.0.0.1-2-y', 'data'), 'utf8'), 'precious');
  assert.equal(await readFile(path.join(garbage, 'foreign.txt'), 'utf8'), 'keep me');
});

test('an output that is a FIFO or a character device is refused and left as it was; so is one inside the store', async () => {
  const store = path.join(dir, 'store-out');
  const fifo = path.join(dir, 'o3', 'pipe');
  await mkdir(path.dirname(fifo), { recursive: true });
  execFileSync('mkfifo', [fifo]);
  const r = await run(pullArgs(reg.ref('hp/img:v1'), fifo, store, '--json'));
  assert.equal(r.code, 1);
  assert.equal(json(r).error?.code, 'ERR_ORASFLY_INVALID_ARGUMENT');
  assert.match(json(r).error!.message, /is a FIFO \(named pipe\); orasfly only writes regular files/);
  assert.ok((await stat(fifo)).isFIFO());
  assert.deepEqual(await readdir(path.dirname(fifo)), ['pipe']);
  if (isRoot) {
    // As root (CI), a real character device: the 0.1.0 CLI replaced it with a regular file.
    const dev = path.join(dir, 'o3', 'null');
    execFileSync('mknod', [dev, 'c', '1', '3']);
    const r2 = await run(pullArgs(reg.ref('hp/img:v1'), dev, store, '--json'));
    assert.equal(r2.code, 1);
    assert.match(json(r2).error!.message, /is a character device/);
    assert.ok((await stat(dev)).isCharacterDevice());
  }
  const inside = path.join(store, 'img.sif');
  const r3 = await run(pullArgs(reg.ref('hp/img:v1'), inside, store, '--json'));
  assert.equal(r3.code, 1);
  assert.match(json(r3).error!.message, /is inside the task store/);
  await assert.rejects(stat(inside), { code: 'ENOENT' });
});

test('-O dir/ names a directory: the file takes the layer title; no file named like the directory appears', async () => {
  const target = path.join(dir, 'newdir');
  const r = await run(pullArgs(reg.ref('hp/img:v1'), `${target}/`, path.join(dir, 'store-dir'), '--json'));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok((await stat(target)).isDirectory());
  assert.deepEqual(await readdir(target), ['img.sif']);
  assert.equal(await sha256File(path.join(target, 'img.sif')), sif.layer.digest);
});

test('--timeout expiry leaves nothing beside the output, keeps no entry without a verified piece, and says what stays', async () => {
  const store = path.join(dir, 'store-timeout');
  const out = path.join(dir, 'o4', 'img.sif');
  const r = await run(pullArgs(reg.ref('hp/img:v1'), out, store, '--ratelimit', '512Ki', '--timeout', '1s', '--json'));
  assert.equal(r.code, 1);
  const j = json(r);
  assert.equal(j.error?.code, 'ERR_ORASFLY_TIMEOUT');
  assert.match(
    j.error!.message,
    /download timed out after 1000 ms; its verified pieces stay in the store, and the next pull resumes from them/,
  );
  // 0.1.0 raced its own cleanup and left the advance hidden file behind; the resumable entry is the store's.
  assert.deepEqual(await readdir(path.dirname(out)).catch(() => [] as string[]), []);
  // 1 s at 512 KiB/s verifies no 4 MiB piece: nothing to resume, so no entry is kept either.
  assert.deepEqual(
    (await readdir(store)).filter((f) => !f.startsWith('.')),
    [],
  );
});

test('Ctrl-C exits 130 after cleaning up and reports ERR_ORASFLY_ABORTED in --json, not a DOMException code', async () => {
  const out = path.join(dir, 'o5', 'img.sif');
  // --console streams core.log lines to stderr: interrupt once the download has really started.
  const r = await run(
    pullArgs(reg.ref('hp/img:v1'), out, path.join(dir, 'store-int'), '--ratelimit', '256Ki', '--json', '--console'),
    {
      onStderr: (text, kill) => {
        if (/start to download/.test(text)) kill('SIGINT');
      },
    },
  );
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.equal(json(r).error?.code, 'ERR_ORASFLY_ABORTED');
  assert.equal(json(r).error?.message, 'download cancelled');
});

test('-O dir/ never takes a dot-name from the registry, nor replaces an existing file with a title', async () => {
  const dot = await pushSif(reg, 'hp/dot', 'v1', {
    size: 4096,
    seed: 6,
    annotations: { 'org.opencontainers.image.title': '.bashrc' },
  });
  void dot;
  const home = path.join(dir, 'home-dot');
  await mkdir(home, { recursive: true });
  await writeFile(path.join(home, '.bashrc'), 'mine');
  const r = await run(pullArgs(reg.ref('hp/dot:v1'), `${home}/`, path.join(dir, 'store-dot'), '--json'));
  assert.equal(r.code, 1);
  assert.match(json(r).error!.message, /title "\.bashrc" is not a safe file name/);
  assert.equal(await readFile(path.join(home, '.bashrc'), 'utf8'), 'mine');
  // A plain title that exists already: refused too (the registry chose the name, not the user).
  await writeFile(path.join(home, 'img.sif'), 'mine too');
  const r2 = await run(pullArgs(reg.ref('hp/img:v1'), `${home}/`, path.join(dir, 'store-dot'), '--json'));
  assert.equal(r2.code, 1);
  assert.match(json(r2).error!.message, /img\.sif exists; the name comes from the layer's title/);
  assert.equal(await readFile(path.join(home, 'img.sif'), 'utf8'), 'mine too');
});

test('cache commands on a data dir that does not exist create nothing', async () => {
  const missing = path.join(dir, 'no-such-store');
  const r = await run(['cache', 'list', '--datadir', missing, '--json']);
  assert.equal(r.code, 0);
  assert.deepEqual(json(r) as unknown, { dataPath: missing, entries: [] });
  await assert.rejects(stat(missing), { code: 'ENOENT' });
});

/** A slow pull of hp/img:v1 to `out` sent `sig` once it starts downloading; asserts the exit code and the abort. */
async function interruptedPull(sig: NodeJS.Signals, code: number, out: string, store: string): Promise<void> {
  const r = await run(pullArgs(reg.ref('hp/img:v1'), out, store, '--ratelimit', '256Ki', '--json', '--console'), {
    onStderr: (text, kill) => {
      if (/start to download/.test(text)) kill(sig);
    },
  });
  assert.equal(r.code, code, r.stdout + r.stderr);
  assert.equal(json(r).error?.code, 'ERR_ORASFLY_ABORTED');
}

test('SIGTERM exits 143 after cleaning up; the next pull of the same ref succeeds', async () => {
  const store = path.join(dir, 'store-term');
  const out = path.join(dir, 'o6', 'img.sif');
  await interruptedPull('SIGTERM', 143, out, store);
  const again = await run(pullArgs(reg.ref('hp/img:v1'), out, store, '--json'));
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(await sha256File(out), sif.layer.digest);
});

test('SIGHUP (an ssh session gone) exits 129 after cleaning up, like SIGTERM', async () => {
  const out = path.join(dir, 'o6h', 'img.sif');
  await interruptedPull('SIGHUP', 129, out, path.join(dir, 'store-hup'));
  assert.deepEqual(await readdir(path.dirname(out)).catch(() => []), [], 'nothing beside the output');
});

test('a stdout closed by its reader (`| head`) does not kill the pull: it ends verified, exit 0', async () => {
  const out = path.join(dir, 'o6p', 'img.sif');
  const r = await run(pullArgs(reg.ref('hp/img:v1'), out, path.join(dir, 'store-pipe')), { closeStdout: true });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /EPIPE/);
  assert.equal(await sha256File(out), sif.layer.digest);
});

test('--timeout needs a unit: a bare number is an error naming the flag (it used to mean milliseconds)', async () => {
  const r = await run(['-u', reg.ref('hp/img:v1'), '-O', path.join(dir, 'o7', 'x.sif'), '--timeout', '30']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invalid timeout: "30" has no unit; write e\.g\. 30s, 5m or 1h30m/);
});

test('a registry host that does not exist fails after one DNS lookup, not after retries', async () => {
  const r = await run(
    pullArgs(
      'oras://no-such-host.invalid/lab/img:v1',
      path.join(dir, 'o8', 'x.sif'),
      path.join(dir, 'store-dns'),
      '--json',
      '--plain-http',
    ),
  );
  assert.equal(r.code, 1);
  const j = json(r) as { error?: { code: string; message: string } };
  assert.equal(j.error?.code, 'ERR_ORASFLY_NETWORK');
  assert.match(j.error!.message, /ENOTFOUND/);
  assert.doesNotMatch(j.error!.message, /after \d+ attempts/, 'not retried');
});

test('--platform picks the manifest of an index; a reuse says it was one (hard link, no download)', async () => {
  const idx = await pushIndex(reg, 'hp/multi', 'v1', [
    { os: 'linux', architecture: 'amd64', layer: { size: 4096, seed: 21 } },
    { os: 'linux', architecture: 'arm64', variant: 'v8', layer: { size: 4096, seed: 22 } },
  ]);
  const store = path.join(dir, 'store-plat');
  const out = path.join(dir, 'o9', 'arm.sif');
  const r = await run(pullArgs(reg.ref('hp/multi:v1'), out, store, '--platform', 'linux/arm64/v8'));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(await sha256File(out), idx.manifests[1]!.layer.digest);
  const again = await run(
    pullArgs(reg.ref('hp/multi:v1'), path.join(dir, 'o9', 'arm2.sif'), store, '--platform', 'linux/arm64/v8'),
  );
  assert.equal(again.code, 0);
  assert.match(again.stdout, /^reused sha256:[0-9a-f]{64} from the task store \(hard link, no download\)$/m);
  const bad = await run(['-u', reg.ref('hp/multi:v1'), '-O', out, '--platform', 'linux', '--datadir', store]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid platform: "linux" is not os\/arch\[\/variant\]/);
});

test('with stderr not a terminal (a pipe), a pull logs progress lines up to 100 %', async () => {
  const r = await run(
    pullArgs(reg.ref('hp/img:v1'), path.join(dir, 'o10', 'p.sif'), path.join(dir, 'store-lines'), '--ratelimit', '1Mi'),
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('progress: '));
  assert.ok(lines.length >= 2, r.stderr);
  // The rate is "--" when fewer than two samples fell after the first second (a slow or busy
  // machine delivers the 3 MiB in few events): the line's shape is what is asserted, not the timing.
  assert.match(lines.at(-1)!, /^progress: 100% 3\.0 MiB\/3\.0 MiB (\d+(\.\d+)? [KMG]?i?B|--)\/s ETA 0s$/);
  // The same content again is a hard link: the output says "reused", and no progress line pretends
  // 3 MiB went by at some absurd rate.
  const again = await run(
    pullArgs(reg.ref('hp/img:v1'), path.join(dir, 'o10', 'p2.sif'), path.join(dir, 'store-lines')),
  );
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^reused sha256:[0-9a-f]{64} from the task store \(hard link, no download\)$/m);
  assert.deepEqual(
    again.stderr.split('\n').filter((l) => l.startsWith('progress: ')),
    [],
  );
});

test('a multi-layer image with no SIF layer is refused with its layers listed, and pulled with --layer-index', async () => {
  const art = await pushArtifact(reg, 'hp/layers', 'v1', {
    layers: [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        size: 2048,
        seed: 31,
        annotations: { 'org.opencontainers.image.title': 'base.tar.gz' },
      },
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 113, seed: 32, annotations: {} },
    ],
  });
  const out = path.join(dir, 'o11', 'x');
  const r = await run(pullArgs(reg.ref('hp/layers:v1'), out, path.join(dir, 'store-layers'), '--json'));
  assert.equal(r.code, 1);
  const j = json(r);
  assert.equal(j.error?.code, 'ERR_ORASFLY_MANIFEST');
  assert.match(
    j.error!.message,
    /2 layers and no SIF layer.*--layer-index N.*Layers: #0 application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip 2048 bytes "base\.tar\.gz", #1 .* 113 bytes/,
  );
  await assert.rejects(stat(out), { code: 'ENOENT' });
  const ok = await run(pullArgs(reg.ref('hp/layers:v1'), out, path.join(dir, 'store-layers'), '--layer-index', '0'));
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(await sha256File(out), art.layers[0]!.digest);
});

test('--json failures carry the registry status, its error code and a kind scripts can branch on', async () => {
  const r = await run(
    pullArgs(reg.ref('hp/no-such-repo:v1'), path.join(dir, 'o12', 'x'), path.join(dir, 'store-json'), '--json'),
  );
  assert.equal(r.code, 1);
  const e = (
    JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      error: { code: string; status?: number; registryCode?: string; kind: string };
    }
  ).error;
  assert.equal(e.code, 'ERR_ORASFLY_REGISTRY_RESPONSE');
  assert.equal(e.status, 404);
  assert.match(e.registryCode ?? '', /UNKNOWN/);
  assert.equal(e.kind, 'not-found');
});
