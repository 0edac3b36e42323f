import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, mkdir, copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  fixturePath,
  repoRoot,
  startRegistry,
  pushSif,
  tagBlobAs,
  type RunningRegistry,
  type PushedArtifact,
} from '../../harness/index.js';
import { sha256File } from '../conductor/helpers.js';

// The published entry point, as `npm i -g` would run it.
const bin = path.join(repoRoot, 'dist', 'cli', 'orasfly.cjs');
const seedConfig = fixturePath('seed-dfget.yaml');
const MiB = 1024 * 1024;

let reg: RunningRegistry;
let pushed: PushedArtifact;
let dir: string;
before(async () => {
  reg = await startRegistry({ variant: 'anonymous' });
  pushed = await pushSif(reg, 'cli/image1', 'tag', { size: 12 * MiB, seed: 31 });
  await tagBlobAs(reg, pushed, 'cli/image2', 'tag');
  dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-cli-'));
});
after(async () => {
  await reg.stop();
  await rm(dir, { recursive: true, force: true, maxRetries: 10 });
});

function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: path.join(dir, 'xdg'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const common = () => ['--datadir', path.join(dir, 'data'), '--logdir', path.join(dir, 'log')];

test('orasfly -u … -O … prints dfget lines, writes a verified file, and reuses it by hard link', async () => {
  await mkdir(path.join(dir, 'cfg'), { recursive: true });
  const config = path.join(dir, 'cfg', 'dfget.yaml');
  await copyFile(seedConfig, config);
  const out1 = path.join(dir, 'out', 'image1');
  const r1 = await run(['-u', reg.ref('cli/image1:tag'), '-O', out1, '--config', config, ...common()]);
  assert.equal(r1.code, 0, r1.stderr);
  const lines = r1.stdout.trim().split('\n');
  assert.match(
    lines[0]!,
    new RegExp(`^--\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d--  ${reg.ref('cli/image1:tag').replace(/[.]/g, '\\.')}$`),
  );
  assert.match(lines[1]!, /^dfget version: orasfly \d+\.\d+\.\d+/);
  assert.match(lines[2]!, /^current user: .+, default peer ip: \d+\.\d+\.\d+\.\d+$/);
  assert.equal(lines[3], `output path: ${out1}`);
  assert.equal(lines[4], 'init success and start to download');
  assert.equal(lines[5], `finish total length ${12 * MiB} bytes`);
  assert.match(lines[6]!, /^download success: true, cost: \d+ ms$/);
  assert.match(r1.stderr, /trailing dot/, 'the seed strategy warns');
  assert.equal(await sha256File(out1), pushed.layer.digest);

  const out2 = path.join(dir, 'out', 'image2');
  const r2 = await run(['-u', reg.ref('cli/image2:tag'), '-O', out2, '--config', config, ...common()]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal((await stat(out2)).ino, (await stat(out1)).ino, 'one inode for image1 and image2');
});

test('a log directory that cannot be written is said on stderr; the pull itself succeeds', async () => {
  const out = path.join(dir, 'out', 'nolog.sif');
  // Under a regular file: no mkdir can succeed there, root or not.
  const logdir = path.join(dir, 'cfg', 'dfget.yaml', 'logs');
  const r = await run([reg.ref('cli/image1:tag'), '-O', out, '--datadir', path.join(dir, 'data'), '--logdir', logdir]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await sha256File(out), pushed.layer.digest);
  assert.match(r.stderr, /warning: \d+ log lines? not written to .*core\.log: ENOTDIR/);
});

test('--console prints JSON log lines including the done line', async () => {
  const out = path.join(dir, 'out', 'console.sif');
  const r = await run([
    reg.ref('cli/image1:tag'),
    '-O',
    out,
    '--console',
    '--datadir',
    path.join(dir, 'data-console'),
    '--logdir',
    path.join(dir, 'log'),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const json = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; level: string; ts: string });
  assert.ok(
    json.some(
      (l) =>
        /^peer task done, cost: \d+ms$/.test(l.msg) &&
        l.level === 'info' &&
        /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/.test(l.ts),
    ),
    r.stderr,
  );
});

test('--json prints one result object with the manifest digest, media types and artifact type', async () => {
  const r = await run([reg.ref('cli/image1:tag'), '-O', path.join(dir, 'out', 'j.sif'), '--json', ...common()]);
  assert.equal(r.code, 0, r.stderr);
  const obj = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(obj.success, true);
  assert.equal(obj.digest, pushed.layer.digest);
  assert.equal(obj.contentLength, 12 * MiB);
  assert.equal(obj.manifestDigest, pushed.manifestDigest);
  assert.equal(obj.manifestMediaType, pushed.manifestMediaType);
  assert.equal(obj.mediaType, 'application/vnd.sylabs.sif.layer.v1.sif');
  assert.equal(
    obj.artifactType,
    pushed.config.mediaType,
    'no artifactType field: the config media type, as oras reports it',
  );
});

test('a bad header is a flag error with exit code 1 and no request', async () => {
  const r = await run([
    '-u',
    reg.ref('cli/image1:tag'),
    '-O',
    path.join(dir, 'out', 'h'),
    '-H',
    'NoColonHere',
    ...common(),
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /header format error: "NoColonHere"/);
  assert.equal(r.stdout, '');
});

test('an output that is a directory is refused like dfget', async () => {
  await mkdir(path.join(dir, 'adir'), { recursive: true });
  const r = await run(['-u', reg.ref('cli/image1:tag'), '-O', path.join(dir, 'adir'), ...common()]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /download success: false, cost: \d+ ms error: .*is directory but requires file path/);
});

test('a wrong --digest fails before downloading, exit code 1', async () => {
  const out = path.join(dir, 'out', 'wrong');
  const r = await run([
    '-u',
    reg.ref('cli/image1:tag'),
    '-O',
    out,
    '--digest',
    `sha256:${'0'.repeat(64)}`,
    ...common(),
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /download success: false, cost: \d+ ms error: .*digest mismatch/);
  assert.match(r.stderr, /^Error: download url oras:\/\/.+: /m);
  await assert.rejects(stat(out));
});

test('a missing tag on an unreachable host fails with exit code 1', async () => {
  // Port 9 on loopback: nothing listens there; no tag means `latest`.
  const r = await run(['-u', 'oras://127.0.0.1:9/nothing/here', '-O', path.join(dir, 'out', 'x'), ...common()], {});
  assert.equal(r.code, 1);
  assert.match(r.stdout, /download success: false, cost: \d+ ms error: /);
});

test('a malformed reference is rejected with a clear message', async () => {
  const r = await run(['-u', 'oras://127.0.0.1:5000/UPPER/case:tag', '-O', path.join(dir, 'out', 'y'), ...common()]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /error: invalid reference/);
});

test('credentials in the URL never appear in stdout, stderr or --json output', async () => {
  for (const extra of [[], ['--json']]) {
    const r = await run([
      '-u',
      'oras://alice:S3cretPass@127.0.0.1:9/a/b:v1',
      '-O',
      path.join(dir, 'out', 'cred'),
      ...extra,
      ...common(),
    ]);
    assert.equal(r.code, 1);
    assert.ok(!`${r.stdout}${r.stderr}`.includes('S3cretPass'), `${r.stdout}${r.stderr}`);
  }
});
