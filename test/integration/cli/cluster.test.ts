// The command on a Dragonfly cluster, against the protocol fakes (fake dfdaemon on a unix socket,
// fake dfdaemon proxy): --endpoint, --disable-back-to-source, --proxy-transport and the transport:
// block of dfget.yaml. A real cluster: test/integration/cluster/real-cluster.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startClusterRig, type ClusterRig } from '../../harness/index.js';
import { startFakeDfdaemon, type FakeDfdaemon } from '../../harness/fake-dfdaemon.js';
import { startFakeDfdaemonProxy, type FakeDfdaemonProxy } from '../../harness/fake-dfdaemon-proxy.js';
import { lastJson, runCli } from './run-cli.js';

let rig: ClusterRig;
let daemon: FakeDfdaemon;
let proxy: FakeDfdaemonProxy;
let n = 0;
before(async () => {
  rig = await startClusterRig({
    name: 'cli-cluster',
    variant: 'anonymous',
    repo: 'c/img',
    size: 3 * 2 ** 20,
    seed: 93,
  });
  [daemon, proxy] = await Promise.all([startFakeDfdaemon(), startFakeDfdaemonProxy()]);
});
after(async () => {
  await Promise.all([daemon?.close(), proxy?.close()]);
  await rig?.close();
});

function home(): { dir: string; args: string[]; out: string } {
  const dir = path.join(rig.root, `h${n++}`);
  mkdirSync(dir, { recursive: true });
  return {
    dir,
    out: path.join(dir, 'img.sif'),
    args: ['--datadir', path.join(dir, 'store'), '--logdir', path.join(dir, 'logs')],
  };
}
const sha256 = (f: string): string => `sha256:${createHash('sha256').update(readFileSync(f)).digest('hex')}`;

test('--endpoint SOCK: a verified output served by the daemon; the origin served the blob once, to the daemon', async () => {
  rig.fault.resetLog();
  const h = home();
  const r = await runCli(h.dir, [
    rig.reg.ref('c/img:v1', rig.fault.host),
    '-O',
    h.out,
    '--endpoint',
    daemon.socketPath,
    ...h.args,
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(sha256(h.out), rig.pushed.layer.digest);
  assert.match(r.stdout, /^served by dfdaemon: 3145728 bytes$/m);
  assert.equal(rig.fault.blobRequests().length, 1, "one blob GET at the origin: the daemon's");
  const log = readFileSync(path.join(h.dir, 'logs', 'dfget', 'core.log'), 'utf8');
  assert.match(log, /"msg":"bytes by transport: dfdaemon 3145728"/);
  assert.match(log, /as daemon task [0-9a-f]{64}/);
});

test('--json says which transport served how many bytes', async () => {
  const h = home();
  const r = await runCli(h.dir, [
    rig.reg.ref('c/img:v1', rig.fault.host),
    '-O',
    h.out,
    '--endpoint',
    daemon.socketPath,
    '--json',
    ...h.args,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lastJson(r).transferredBy, { dfdaemon: 3 * 2 ** 20 });
});

test('--endpoint to a missing socket: the origin serves; with --disable-back-to-source it is ERR_ORASFLY_DAEMON', async () => {
  const h = home();
  const missing = path.join(h.dir, 'none.sock');
  const ok = await runCli(h.dir, [rig.reg.ref('c/img:v1'), '-O', h.out, '--endpoint', missing, '--json', ...h.args]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(lastJson(ok).transferredBy, { source: 3 * 2 ** 20 });
  const h2 = home();
  const bad = await runCli(h2.dir, [
    rig.reg.ref('c/img:v1'),
    '-O',
    h2.out,
    '--endpoint',
    missing,
    '--disable-back-to-source',
    '--json',
    ...h2.args,
  ]);
  assert.equal(bad.code, 1);
  const e = lastJson<{ error: { code: string; kind: string; message: string } }>(bad).error;
  assert.equal(e.code, 'ERR_ORASFLY_DAEMON');
  assert.equal(e.kind, 'cluster');
  assert.match(e.message, /no dfdaemon socket .*back-to-source is disabled/);
});

test('--disable-back-to-source without a cluster is a usage error', async () => {
  const h = home();
  const r = await runCli(h.dir, [rig.reg.ref('c/img:v1'), '-O', h.out, '--disable-back-to-source', ...h.args]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /disabling back-to-source \(the command: --disable-back-to-source, or transport\.disableBackToSource in dfget\.yaml\) needs a daemon/,
  );
});

test('--proxy-transport URL: pieces through the daemon proxy', async () => {
  const h = home();
  const r = await runCli(h.dir, [
    rig.reg.ref('c/img:v1'),
    '-O',
    h.out,
    '--proxy-transport',
    proxy.url,
    '--json',
    ...h.args,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sha256(h.out), rig.pushed.layer.digest);
  assert.deepEqual(lastJson(r).transferredBy, { proxy: 3 * 2 ** 20 });
  assert.ok(proxy.requests.length >= 1);
});

test('dfget.yaml transport: block selects the daemon', async () => {
  const h = home();
  const cfg = path.join(h.dir, 'dfget.yaml');
  writeFileSync(cfg, `transport:\n  endpoint: ${daemon.socketPath}\n  delivery: piece-content\n  idleTimeout: 10s\n`);
  const before = daemon.downloads.length;
  const r = await runCli(h.dir, [rig.reg.ref('c/img:v1'), '-O', h.out, '--config', cfg, '--json', ...h.args]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lastJson(r).transferredBy, { dfdaemon: 3 * 2 ** 20 });
  assert.equal(daemon.downloads[before]!.need_piece_content, true);
});
