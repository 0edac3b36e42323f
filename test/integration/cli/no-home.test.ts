// A user with no home directory: no HOME, and (as root here, through setpriv) a uid with no passwd
// entry, as `docker run -u 12345` gives. os.homedir() throws there; a pull that is told where its
// store and log go must not care, and one that is not says which flag it needs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry, pushSif, sha256File, type RunningRegistry, type PushedArtifact } from '../../harness/index.js';
import { CLI_BIN } from './run-cli.js';

let reg: RunningRegistry;
let dir: string;
let sif: PushedArtifact;
let bin: string;
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((f) => existsSync(f));
// As root, a stranger's uid; otherwise this user without HOME (os.homedir() then reads passwd).
const asStranger =
  process.getuid?.() === 0 && setpriv ? [setpriv, '--reuid=54321', '--regid=54321', '--clear-groups'] : [];

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-no-home-'));
  chmodSync(dir, 0o755);
  // The checkout may be readable by its owner only: the stranger runs a copy of the bundled command.
  mkdirSync(path.join(dir, 'cli'));
  for (const f of ['orasfly.cjs', 'orasfly-main.cjs'])
    copyFileSync(path.join(path.dirname(CLI_BIN), f), path.join(dir, 'cli', f));
  bin = path.join(dir, 'cli', 'orasfly.cjs');
  mkdirSync(path.join(dir, 'w'), { mode: 0o777 });
  chmodSync(path.join(dir, 'w'), 0o777);
  reg = await startRegistry({ variant: 'anonymous' });
  sif = await pushSif(reg, 'nh/img', 'v1', { size: 300_000, seed: 41 });
});
after(async () => {
  await reg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] };
  const argv = [...asStranger, process.execPath, bin, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('no home: a pull given --datadir and --logdir succeeds; without --datadir it names the flag', async () => {
  const w = path.join(dir, 'w');
  const out = path.join(w, 'a.sif');
  const ok = run([
    reg.ref('nh/img:v1'),
    '-O',
    out,
    '--datadir',
    path.join(w, 'store'),
    '--logdir',
    path.join(w, 'log'),
  ]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(await sha256File(out), sif.layer.digest);
  assert.ok(existsSync(path.join(w, 'log', 'dfget', 'core.log')));
  if (asStranger.length) {
    const bare = run([reg.ref('nh/img:v1'), '-O', path.join(w, 'b.sif')]);
    assert.equal(bare.status, 1, bare.stdout + bare.stderr);
    assert.match(bare.stderr, /no data directory: there is no home directory; give --datadir/);
    assert.doesNotMatch(bare.stderr, /uv_os_homedir/);
    assert.equal(existsSync(path.join(w, 'b.sif')), false);
  }
});
