// Runs the compiled examples (.build/examples/*.js) as child processes against the harness registry,
// the way their headers tell users to, and checks what they print and write.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry, pushSif, tagBlobAs, type RunningRegistry, type PushedArtifact } from '../harness/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const examples = path.resolve(here, '..', '..', 'examples');
const MiB = 1024 * 1024;

let reg: RunningRegistry;
let pushed: PushedArtifact;
let tmp: string;
before(async () => {
  reg = await startRegistry({ variant: 'anonymous' });
  // 6 MiB: two pieces of 4 MiB (the second one short), so pieces and progress are exercised.
  pushed = await pushSif(reg, 'examples/image1', 'tag', { size: 6 * MiB, seed: 55 });
  await tagBlobAs(reg, pushed, 'examples/image2', 'tag');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'orasfly-examples-'));
});
after(async () => {
  await reg?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Runs `.build/examples/<name>.js` with TMPDIR inside this test's temp dir (and no user credentials). */
async function run(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string; tmpdir: string }> {
  const tmpdir = path.join(tmp, name);
  await mkdir(tmpdir, { recursive: true });
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(examples, `${name}.js`), ...args], {
      env: { ...process.env, TMPDIR: tmpdir, HOME: tmp, DOCKER_CONFIG: path.join(tmp, 'no-docker'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr, tmpdir }));
  });
}

function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

test('pull-to-file writes the blob: the file hashes to the layer digest', async () => {
  const output = path.join(tmp, 'pull', 'image1.sif');
  const r = await run('pull-to-file', [reg.ref('examples/image1:tag'), output]);
  assert.equal(r.code, 0, r.stderr);
  const [result] = jsonLines(r.stdout);
  assert.ok(result, r.stdout);
  assert.equal(result['output'], output);
  assert.equal(result['digest'], pushed.layer.digest);
  assert.equal(result['contentLength'], pushed.layer.size);
  assert.equal(result['reused'], false);
  assert.equal(await sha256File(output), pushed.layer.digest);
});

test('pull-to-file reads the ref from ORASFLY_REF and reports a bad reference with its error code', async () => {
  const output = path.join(tmp, 'env', 'image2.sif');
  const r = await run('pull-to-file', [], { ORASFLY_REF: reg.ref('examples/image2:tag'), ORASFLY_OUTPUT: output });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(jsonLines(r.stdout)[0]?.['output'], output);
  assert.equal(await sha256File(output), pushed.layer.digest);
  const bad = await run('pull-to-file', ['oras://127.0.0.1:1/Bad Repo:tag', path.join(tmp, 'bad.sif')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /ERR_ORASFLY_INVALID_REFERENCE/);
  const usage = await run('pull-to-file', []);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /usage: pull-to-file/);
});

test('progress reports monotonic progress to 100 % and one piece event per piece', async () => {
  const r = await run('progress', [reg.ref('examples/image1:tag')]);
  assert.equal(r.code, 0, r.stderr);
  const [s] = jsonLines(r.stdout);
  assert.ok(s, r.stdout);
  assert.equal(s['digest'], pushed.layer.digest);
  assert.equal(s['pieces'], 2);
  assert.equal(s['lastPercent'], 100);
  assert.deepEqual(s['states'], ['running', 'completing', 'succeeded']);
  const percents = [...r.stderr.matchAll(/^\s*(\d+) %/gm)].map((m) => Number(m[1]));
  assert.deepEqual(
    percents,
    [...percents].sort((a, b) => a - b),
  );
  assert.equal(percents.at(-1), 100);
  assert.deepEqual(await readdir(r.tmpdir), [], 'the example removes its temp dir');
});

test('custom-storage-strategy: the wrapped strategy is used (simple: 2 links, advance: 3)', async () => {
  const simple = await run('custom-storage-strategy', [reg.ref('examples/image1:tag')]);
  assert.equal(simple.code, 0, simple.stderr);
  const [s] = jsonLines(simple.stdout);
  assert.equal(s?.['strategy'], 'io.d7y.storage.v2.simple');
  assert.equal(s?.['events'], 2);
  assert.equal(s?.['nlink'], 2);
  assert.equal(s?.['method'], 'link');
  assert.equal(s?.['digest'], pushed.layer.digest);
  assert.match(simple.stderr, /^locate .* \(io\.d7y\.storage\.v2\.simple\)$/m);

  const advance = await run('custom-storage-strategy', [reg.ref('examples/image1:tag'), '--advance']);
  assert.equal(advance.code, 0, advance.stderr);
  const [a] = jsonLines(advance.stdout);
  assert.equal(a?.['strategy'], 'io.d7y.storage.v2.advance');
  assert.equal(a?.['nlink'], 3);
  assert.match(advance.stderr, /\.image\.sif\.dfget\.cache\./);
});

test('custom-piece-transport serves every piece through the custom transport, also from a mirror', async () => {
  const r = await run('custom-piece-transport', [reg.ref('examples/image1:tag')]);
  assert.equal(r.code, 0, r.stderr);
  const [s] = jsonLines(r.stdout);
  assert.equal(s?.['digest'], pushed.layer.digest);
  assert.equal(s?.['transport'], 'counting');
  assert.equal(s?.['pieces'], 2);
  assert.equal(s?.['transportBytes'], pushed.layer.size);

  const m = await run('custom-piece-transport', [reg.ref('examples/image1:tag'), reg.ref('examples/image2:tag')]);
  assert.equal(m.code, 0, m.stderr);
  const [t] = jsonLines(m.stdout);
  assert.equal(t?.['transportBytes'], pushed.layer.size);
  assert.doesNotMatch(m.stderr, /another blob/);
});

test('shared-store: two processes, one store, one download, one inode', async () => {
  const r = await run('shared-store', [reg.ref('examples/image1:tag')]);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  assert.equal(lines.length, 3, r.stdout);
  const [c1, c2, summary] = lines as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
  assert.notEqual(c1['pid'], c2['pid']);
  assert.equal(c1['ino'], c2['ino']);
  assert.deepEqual(summary['inodes'], [c1['ino']]);
  assert.equal(summary['sameInode'], true);
  assert.equal(summary['downloads'], 1);
  assert.equal([c1, c2].filter((c) => c['reused'] === true).length, 1);
  for (const c of [c1, c2]) assert.equal(c['digest'], pushed.layer.digest);
  assert.deepEqual(await readdir(r.tmpdir), []);
});
