// The command against a real Dragonfly (the Go scheduler and two Rust dfdaemons from
// ../shared/dragonfly, or $ORASFLY_DRAGONFLY_DIR; test/harness/real-cluster.ts), in front of a real
// registry behind a counting proxy: every scenario checks the output's sha256 and counts the blob
// bytes the origin served. Without the binaries, one test says that these did not run, and why.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { startClusterRig, pushSif, type ClusterRig, type PushedArtifact } from '../../harness/index.js';
import { locateDragonfly, startRealCluster, type RealCluster } from '../../harness/real-cluster.js';
import { lastJson, runCli, type CliRun } from '../cli/run-cli.js';

const where = locateDragonfly();
const SIZE = 32 * 2 ** 20;
/** The flipped-byte scenario's blob: the 128 MiB, where one bad piece is a small share. */
const BIG = 128 * 2 ** 20;
// What the daemon asks the origin besides the blob: a 1-byte range probe (bytes=0-0) per task.
const ONE_COPY_MAX = Math.floor(SIZE * 1.02);

if ('absent' in where) {
  test(`real-cluster interop tests did not run: ${where.absent}`, () => {
    assert.ok('absent' in locateDragonfly(), 'the Dragonfly binaries are absent');
  });
} else {
  const dir = where.dir;
  let rig: ClusterRig;
  let cluster: RealCluster;
  const images = new Map<string, PushedArtifact>();
  let n = 0;

  before(async () => {
    rig = await startClusterRig({ name: 'real-cluster', variant: 'anonymous', repo: 'lab/a', size: SIZE, seed: 241 });
    images.set('lab/a', rig.pushed);
    for (const [i, repo] of ['lab/b', 'lab/c', 'lab/d', 'lab/e', 'lab/f', 'lab/g'].entries())
      images.set(repo, await pushSif(rig.reg, repo, 'v1', { size: SIZE, seed: 242 + i }));
    images.set('lab/big', await pushSif(rig.reg, 'lab/big', 'v1', { size: BIG, seed: 251 }));
    cluster = await startRealCluster(dir, { daemons: 2 });
  });
  after(async () => {
    await cluster?.stop();
    await rig?.close();
  });

  const home = (): { dir: string; out: string; args: string[] } => {
    const d = path.join(rig.root, `h${n++}`);
    mkdirSync(d, { recursive: true });
    return {
      dir: d,
      out: path.join(d, 'img.sif'),
      args: ['--datadir', path.join(d, 'store'), '--logdir', path.join(d, 'logs'), '--json'],
    };
  };
  const pull = async (
    repo: string,
    extra: string[],
    opts: Parameters<typeof runCli>[2] = {},
  ): Promise<{ r: CliRun; out: string; log: () => string }> => {
    const h = home();
    const r = await runCli(h.dir, [rig.reg.ref(`${repo}:v1`, rig.fault.host), '-O', h.out, ...h.args, ...extra], opts);
    const log = (): string => readFileSync(path.join(h.dir, 'logs', 'dfget', 'core.log'), 'utf8');
    return { r, out: h.out, log };
  };
  const run = (file: string, args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) =>
      execFile(file, args, (e, stdout, stderr) =>
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: stdout + stderr }),
      ),
    );
  const flipByte = (file: string, at: number): void => {
    const fd = openSync(file, 'r+');
    try {
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, at);
      b[0] = b[0]! ^ 0xff;
      writeSync(fd, b, 0, 1, at);
    } finally {
      closeSync(fd);
    }
  };
  const sha256 = (f: string): string => `sha256:${createHash('sha256').update(readFileSync(f)).digest('hex')}`;
  const verified = (out: string, repo: string): void => assert.equal(sha256(out), images.get(repo)!.layer.digest);
  const transferredBy = (r: CliRun): Record<string, number> =>
    lastJson<{ transferredBy: Record<string, number> }>(r).transferredBy;
  // The origin's blob bytes since the last reset, with the proxy's log as the message.
  const copies = (bytes: number): string => (bytes / SIZE).toFixed(3);
  const origin = (): { bytes: number; why: string } => ({
    bytes: rig.fault.blobBytesSent(),
    why: JSON.stringify(rig.fault.blobRequests().map((q) => [q.range ?? '-', q.status, q.bytesSent])),
  });

  test('--endpoint, output-path: verified, served by the daemon, which fetched one copy from the origin', async (t) => {
    rig.fault.resetLog();
    const { r, out, log } = await pull('lab/a', ['--endpoint', cluster.daemons[0]!.socketPath]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    verified(out, 'lab/a');
    assert.deepEqual(transferredBy(r), { dfdaemon: SIZE });
    assert.match(log(), /as daemon task [0-9a-f]{64} \(delivery output-path/);
    const o = origin();
    t.diagnostic(`origin: ${copies(o.bytes)} copies`);
    assert.ok(o.bytes >= SIZE && o.bytes <= ONE_COPY_MAX, o.why);
  });

  test("a warm daemon, a fresh store: daemon 0's file is taken whole (same inode), verified, nothing from the origin", async (t) => {
    // lab/a is in daemon 0 since the test above. Sharing its inode is safe: the Rust daemon writes a
    // task file only for pieces not yet finished; a finished one is only linked, copied, read or unlinked.
    // Not reset: the next test counts the origin's bytes since the first pull. This one adds none.
    const before = origin().bytes;
    const d0 = cluster.daemons[0]!;
    const t0 = performance.now();
    const { r, out, log } = await pull('lab/a', ['--endpoint', d0.socketPath]);
    const ms = Math.round(performance.now() - t0);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    verified(out, 'lab/a');
    assert.deepEqual(transferredBy(r), { dfdaemon: SIZE });
    assert.match(log(), /took the daemon's file whole as the data file/);
    const inodes = (await d0.taskIds()).map((id) => statSync(d0.taskFile(id)).ino);
    assert.ok(inodes.includes(statSync(out).ino), "the output (a link to the data file) is daemon 0's task file");
    assert.equal(origin().bytes - before, 0, origin().why);
    t.diagnostic(`warm pull of ${SIZE / 2 ** 20} MiB: ${ms} ms (the whole command)`);
  });

  test('a second host (--endpoint on daemon 1) gets the pieces from daemon 0: the origin served one copy for both', async (t) => {
    // The log is not reset: the count includes the first host's pull above.
    const { r, out } = await pull('lab/a', ['--endpoint', cluster.daemons[1]!.socketPath]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    verified(out, 'lab/a');
    assert.deepEqual(transferredBy(r), { dfdaemon: SIZE });
    const o = origin();
    t.diagnostic(`origin: ${copies(o.bytes)} copies`);
    assert.ok(o.bytes >= SIZE && o.bytes <= ONE_COPY_MAX, o.why);
    assert.ok((await cluster.daemons[1]!.taskIds()).length >= 1, 'daemon 1 holds a task file');
  });

  test('--endpoint, piece-content (transport.delivery in dfget.yaml): the bytes come in the gRPC stream', async (t) => {
    rig.fault.resetLog();
    const cfgDir = path.join(rig.root, `cfg${n++}`);
    mkdirSync(cfgDir);
    const cfg = path.join(cfgDir, 'dfget.yaml');
    writeFileSync(cfg, `transport:\n  endpoint: ${cluster.daemons[1]!.socketPath}\n  delivery: piece-content\n`);
    const { r, out, log } = await pull('lab/b', ['--config', cfg]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    verified(out, 'lab/b');
    assert.deepEqual(transferredBy(r), { dfdaemon: SIZE });
    assert.match(log(), /as daemon task [0-9a-f]{64} \(delivery piece-content/);
    const o = origin();
    t.diagnostic(`origin: ${copies(o.bytes)} copies`);
    assert.ok(o.bytes >= SIZE && o.bytes <= ONE_COPY_MAX, o.why);
  });

  test("--proxy-transport: the pieces through daemon 0's HTTP proxy; one copy from the origin", async (t) => {
    rig.fault.resetLog();
    const { r, out } = await pull('lab/c', ['--proxy-transport', cluster.daemons[0]!.proxyUrl]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    verified(out, 'lab/c');
    assert.deepEqual(transferredBy(r), { proxy: SIZE });
    const o = origin();
    t.diagnostic(`origin: ${copies(o.bytes)} copies`);
    assert.ok(o.bytes >= SIZE && o.bytes <= ONE_COPY_MAX, o.why);
  });

  test('the --proxy-transport blob then --endpoint on the other host: one task, one copy from the origin', async (t) => {
    // Not reset: the count includes the proxy pull above. Neither transport sends a piece length of
    // its own, so the proxy and DownloadTask make the same task id for the blob URL.
    const { r, out } = await pull('lab/c', ['--endpoint', cluster.daemons[1]!.socketPath]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    verified(out, 'lab/c');
    assert.deepEqual(transferredBy(r), { dfdaemon: SIZE });
    const o = origin();
    t.diagnostic(`origin: ${copies(o.bytes)} copies`);
    assert.ok(o.bytes >= SIZE && o.bytes <= ONE_COPY_MAX, o.why);
  });

  test('Rust dfget pulls the blob URL through daemon 1 first, then orasfly --endpoint on daemon 0: one copy from the origin', async (t) => {
    rig.fault.resetLog();
    const layer = images.get('lab/g')!.layer;
    const d = path.join(rig.root, `dfget${n++}`);
    mkdirSync(d);
    // The URL orasfly hands the daemon for a plain-HTTP loopback registry.
    const url = `http://${rig.fault.host}/v2/lab/g/blobs/${layer.digest}`;
    const g = await run(cluster.dfget, [url, '-O', path.join(d, 'blob'), '--endpoint', cluster.daemons[1]!.socketPath]);
    assert.equal(g.code, 0, g.out);
    assert.equal(sha256(path.join(d, 'blob')), layer.digest);
    const { r, out } = await pull('lab/g', ['--endpoint', cluster.daemons[0]!.socketPath]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    verified(out, 'lab/g');
    assert.deepEqual(transferredBy(r), { dfdaemon: SIZE });
    const o = origin();
    t.diagnostic(`origin: ${copies(o.bytes)} copies for dfget and orasfly`);
    assert.ok(o.bytes >= SIZE && o.bytes <= ONE_COPY_MAX, o.why);
  });

  test("one byte flipped in daemon 0's task file: verified, nothing beside the output, the origin serves at most a quarter", async (t) => {
    const d0 = cluster.daemons[0]!;
    const known = new Set(await d0.taskIds());
    const first = await pull('lab/big', ['--endpoint', d0.socketPath]);
    assert.equal(first.r.code, 0, first.r.stdout + first.r.stderr);
    const fresh = (await d0.taskIds()).filter((id) => !known.has(id));
    assert.equal(fresh.length, 1, `one new task in daemon 0: ${fresh.join(', ')}`);
    flipByte(d0.taskFile(fresh[0]!), BIG / 2 + 12_345);
    rig.fault.resetLog();
    const { r, out } = await pull('lab/big', ['--endpoint', d0.socketPath]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    verified(out, 'lab/big');
    assert.deepEqual(readdirSync(path.dirname(out)).sort(), ['img.sif', 'logs', 'store']);
    const o = origin();
    t.diagnostic(
      `origin: ${(o.bytes / BIG).toFixed(3)} copies of ${BIG / 2 ** 20} MiB; served ${JSON.stringify(transferredBy(r))}`,
    );
    assert.ok(o.bytes > 0 && o.bytes <= BIG / 4, o.why);
  });

  test('daemon 1 killed -9 mid-pull: the origin serves, the output is verified, exit 0', async (t) => {
    rig.fault.resetLog();
    const digest = images.get('lab/d')!.layer.digest;
    const blob = new RegExp(`/blobs/${digest}`);
    // The daemon's first GET is its 1-byte probe; the next (a piece) is held after 1 MiB, so the
    // daemon cannot finish before it is killed.
    rig.fault.addRule({ method: 'GET', path: blob, times: 1, fault: { kind: 'delay', ms: 0 } });
    rig.fault.addRule({ method: 'GET', path: blob, times: 1, fault: { kind: 'stall', afterBytes: 2 ** 20 } });
    const daemon = cluster.daemons[1]!;
    const pulling = pull('lab/d', ['--endpoint', daemon.socketPath]);
    let originAtKill: number | undefined;
    try {
      // Killed once the daemon has fetched some whole pieces from the origin.
      const deadline = Date.now() + 30_000;
      while (rig.fault.blobRequests().filter((q) => q.status === 206 && q.bytesSent >= 2 ** 20).length < 2) {
        if (Date.now() > deadline) throw new Error(`the daemon fetched no piece: ${origin().why}`);
        await new Promise((res) => setTimeout(res, 20));
      }
      originAtKill = rig.fault.blobBytesSent();
    } finally {
      rig.fault.clearRules();
      // Also when the wait failed: the held piece ends with the daemon, and the command with it.
      if (daemon.pid() !== undefined) await daemon.kill('SIGKILL');
    }
    const { r, out } = await pulling;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    verified(out, 'lab/d');
    const by = transferredBy(r);
    assert.equal((by.source ?? 0) + (by.dfdaemon ?? 0), SIZE, JSON.stringify(by));
    assert.ok((by.source ?? 0) > 0, `the origin served the rest: ${JSON.stringify(by)}`);
    const o = origin();
    t.diagnostic(
      `origin: ${copies(o.bytes)} copies (${copies(originAtKill)} before the kill); served ${JSON.stringify(by)}`,
    );
    assert.ok(o.bytes > originAtKill, o.why);
    assert.ok(o.bytes <= 2 * SIZE + Math.floor(SIZE * 0.02), o.why);
    assert.ok(daemon.pid() === undefined && existsSync(daemon.socketPath), 'the dead daemon left its socket');
  });

  test("daemon 1's dead socket: the origin serves one copy, verified, exit 0", async () => {
    rig.fault.resetLog();
    const sock = cluster.daemons[1]!.socketPath;
    assert.equal(cluster.daemons[1]!.pid(), undefined, 'killed by the test above');
    const { r, out, log } = await pull('lab/e', ['--endpoint', sock]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    verified(out, 'lab/e');
    assert.deepEqual(transferredBy(r), { source: SIZE });
    assert.equal(origin().bytes, SIZE, origin().why);
    assert.ok(log().includes(sock), 'core.log names the socket');
  });

  test("daemon 1's dead socket with --disable-back-to-source: exit != 0, no output, the message names the socket, no blob byte from the origin", async () => {
    rig.fault.resetLog();
    const sock = cluster.daemons[1]!.socketPath;
    const { r, out } = await pull('lab/f', ['--endpoint', sock, '--disable-back-to-source']);
    assert.notEqual(r.code, 0);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(path.dirname(out)).sort(), ['logs', 'store']);
    const e = lastJson<{ error: { code: string; message: string } }>(r).error;
    assert.equal(e.code, 'ERR_ORASFLY_DAEMON');
    assert.ok(e.message.includes(sock), e.message);
    assert.match(e.message, /is not running \(connection refused\)/);
    assert.doesNotMatch(e.message, /Resolution note|No connection established/);
    assert.equal(origin().bytes, 0, origin().why);
  });

  test('a token-auth registry through the daemon: verified, one copy, and the password in no output, log or argv', async (t) => {
    const tokenRig = await startClusterRig({
      name: 'real-cluster-token',
      variant: 'token',
      repo: 'auth/x',
      size: SIZE,
      seed: 251,
    });
    t.after(() => tokenRig.close());
    const { username, password } = tokenRig.reg.credentials!;
    const h = home();
    const argvSeen: string[] = [];
    const r = await runCli(
      h.dir,
      [
        tokenRig.reg.ref('auth/x:v1', tokenRig.fault.host),
        '-O',
        h.out,
        ...h.args,
        '--endpoint',
        cluster.daemons[0]!.socketPath,
        '--username',
        username,
        '--password-stdin',
      ],
      { stdin: `${password}\n` },
    );
    // Every process's argv right after the pull (the daemon's included): no password.
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        argvSeen.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
      } catch {
        // gone meanwhile
      }
    }
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(sha256(h.out), tokenRig.pushed.layer.digest);
    assert.deepEqual(transferredBy(r), { dfdaemon: SIZE });
    const bytes = tokenRig.fault.blobBytesSent();
    t.diagnostic(`origin: ${copies(bytes)} copies`);
    assert.ok(bytes >= SIZE && bytes <= ONE_COPY_MAX, `the origin sent ${bytes} bytes`);
    const texts = [
      r.stdout,
      r.stderr,
      readFileSync(path.join(h.dir, 'logs', 'dfget', 'core.log'), 'utf8'),
      readFileSync(cluster.daemons[0]!.logPath, 'utf8'),
      readFileSync(cluster.schedulerLog, 'utf8'),
      ...argvSeen,
    ];
    for (const text of texts) assert.ok(!text.includes(password), 'the password leaked');
  });

  test('the scheduler killed: daemon 0 goes to the origin itself; verified, exit 0, one copy', async (t) => {
    rig.fault.resetLog();
    await cluster.killScheduler('SIGKILL');
    const d0 = cluster.daemons[0]!;
    const { r, out } = await pull('lab/f', ['--endpoint', d0.socketPath]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    verified(out, 'lab/f');
    assert.deepEqual(transferredBy(r), { dfdaemon: SIZE });
    await cluster.waitForLog(d0.logPath, /download with scheduler error/, 5_000);
    const o = origin();
    t.diagnostic(`origin: ${copies(o.bytes)} copies`);
    assert.ok(o.bytes >= SIZE && o.bytes <= ONE_COPY_MAX, o.why);
  });
}
