// Whole artifacts, as `oras pull` pulls them: -O DIR --all-layers writes every titled layer under its
// title, each a task in the store (so a second pull is hard links), and refuses unsafe titles before
// writing anything. Real registry, real command.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startRegistry,
  pushArtifact,
  layerBytes,
  type PushedArtifact,
  type RunningRegistry,
} from '../../harness/index.js';
import { lastJson, runCli } from './run-cli.js';
import { createDownloader } from '../../../src/downloader.js';
import { ManifestError } from '../../../src/core/errors.js';

const TITLE = 'org.opencontainers.image.title';
let reg: RunningRegistry;
let root: string;
let bundle: PushedArtifact;
let n = 0;
before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'orasfly-all-layers-'));
  reg = await startRegistry({ variant: 'anonymous' });
  bundle = await pushArtifact(reg, 'a/bundle', 'v1', {
    configMediaType: 'application/vnd.example.bundle.config.v1+json',
    layers: [
      { mediaType: 'application/vnd.example.model', size: 300_000, seed: 11, annotations: { [TITLE]: 'model.bin' } },
      { mediaType: 'text/plain', size: 1_000, seed: 12, annotations: { [TITLE]: 'docs/README.txt' } },
      { mediaType: 'application/octet-stream', size: 500, seed: 13, annotations: {} },
    ],
  });
  await pushArtifact(reg, 'a/evil', 'v1', {
    layers: [
      { mediaType: 'text/plain', size: 100, seed: 14, annotations: { [TITLE]: 'fine.txt' } },
      { mediaType: 'text/plain', size: 100, seed: 15, annotations: { [TITLE]: '../escape.txt' } },
    ],
  });
  await pushArtifact(reg, 'a/dup', 'v1', {
    layers: [
      { mediaType: 'text/plain', size: 100, seed: 16, annotations: { [TITLE]: 'same.txt' } },
      { mediaType: 'text/plain', size: 100, seed: 17, annotations: { [TITLE]: 'same.txt' } },
    ],
  });
});
after(async () => {
  await reg?.stop();
  rmSync(root, { recursive: true, force: true });
});

function home(): { dir: string; store: string; args: string[] } {
  const dir = path.join(root, `h${n++}`);
  mkdirSync(dir, { recursive: true });
  const store = path.join(dir, 'store');
  return { dir, store, args: ['--datadir', store, '--logdir', path.join(dir, 'logs')] };
}

test('-O DIR --all-layers writes every titled layer under its title, verified; untitled ones are skipped with a warning', async () => {
  const h = home();
  const out = path.join(h.dir, 'bundle');
  const r = await runCli(h.dir, [reg.ref('a/bundle:v1'), '-O', out, '--all-layers', ...h.args]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok(readFileSync(path.join(out, 'model.bin')).equals(layerBytes({ size: 300_000, seed: 11 })));
  assert.ok(readFileSync(path.join(out, 'docs', 'README.txt')).equals(layerBytes({ size: 1_000, seed: 12 })));
  assert.deepEqual(readdirSync(out).sort(), ['docs', 'model.bin']);
  assert.match(
    r.stderr,
    new RegExp(`warning: skipped layer ${bundle.layers[2]!.digest}.*no org.opencontainers.image.title`),
  );
  assert.match(r.stdout, /downloaded sha256:[0-9a-f]{64} to model\.bin \(300000 bytes\)/);
  assert.match(r.stdout, /finish total length 301000 bytes/);
  // The directories made for the artifact follow the umask, as the files do (not 0700).
  mkdirSync(path.join(h.dir, 'by-the-test'));
  const umaskMode = statSync(path.join(h.dir, 'by-the-test')).mode & 0o777;
  assert.equal(statSync(out).mode & 0o777, umaskMode);
  assert.equal(statSync(path.join(out, 'docs')).mode & 0o777, umaskMode);

  // Again into another directory: every layer is a task in the store, so this is hard links.
  const again = path.join(h.dir, 'again');
  const j = await runCli(h.dir, [reg.ref('a/bundle:v1'), '-O', again, '--all-layers', '--json', ...h.args]);
  assert.equal(j.code, 0, j.stdout + j.stderr);
  const res = lastJson<{
    layers: Array<{ reused: boolean; method: string; output: string }>;
    manifestDigest: string;
    artifactType: string;
    skipped: unknown[];
  }>(j);
  assert.equal(res.manifestDigest, bundle.manifestDigest);
  assert.equal(res.artifactType, 'application/vnd.example.bundle.config.v1+json');
  assert.equal(res.skipped.length, 1);
  assert.deepEqual(
    res.layers.map((l) => [l.reused, l.method]),
    [
      [true, 'link'],
      [true, 'link'],
    ],
  );
  assert.equal(statSync(path.join(again, 'model.bin')).ino, statSync(path.join(out, 'model.bin')).ino);
});

test('an unsafe title ("..") fails the whole pull before anything is written', async () => {
  const h = home();
  const out = path.join(h.dir, 'evil');
  const r = await runCli(h.dir, [reg.ref('a/evil:v1'), '-O', out, '--all-layers', '--json', ...h.args]);
  assert.equal(r.code, 1);
  const e = lastJson<{ error: { code: string; message: string } }>(r).error;
  assert.equal(e.code, 'ERR_ORASFLY_MANIFEST');
  assert.match(e.message, /"\.\.\/escape\.txt"/);
  assert.ok(!existsSync(path.join(out, 'fine.txt')), 'not even the safe layer was written');
  assert.ok(!existsSync(path.join(h.dir, 'escape.txt')));
});

test('two layers of one title are refused; a symbolic link on the way is refused', async () => {
  const h = home();
  const dup = await runCli(h.dir, [reg.ref('a/dup:v1'), '-O', path.join(h.dir, 'dup'), '--all-layers', ...h.args]);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /both titled "same\.txt"/);
  const out = path.join(h.dir, 'linked');
  mkdirSync(out);
  mkdirSync(path.join(h.dir, 'elsewhere'));
  symlinkSync(path.join(h.dir, 'elsewhere'), path.join(out, 'docs'));
  const r = await runCli(h.dir, [reg.ref('a/bundle:v1'), '-O', out, '--all-layers', ...h.args]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is a symbolic link/);
  assert.deepEqual(readdirSync(path.join(h.dir, 'elsewhere')), []);
});

test('--all-layers with --layer-index is a usage error', async () => {
  const h = home();
  const r = await runCli(h.dir, [reg.ref('a/bundle:v1'), '-O', h.dir, '--all-layers', '--layer-index', '0']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot be combined with --layer-index/);
});

test('library: downloadAll reports progress over all layers and a ManifestError for unsafe titles', async () => {
  const h = home();
  const dl = await createDownloader({ storage: { dataPath: h.store } });
  try {
    const seen: number[] = [];
    const r = await dl.downloadAll({
      url: reg.ref('a/bundle:v1'),
      outputDir: path.join(h.dir, 'lib'),
      onProgress: (p) => seen.push(p.transferred / p.total),
    });
    assert.equal(r.layers.length, 2);
    assert.equal(r.contentLength, 301_000);
    assert.equal(seen.at(-1), 1);
    assert.ok(
      seen.every((x, i) => i === 0 || x >= seen[i - 1]!),
      'progress never goes back',
    );
    await assert.rejects(
      dl.downloadAll({ url: reg.ref('a/evil:v1'), outputDir: path.join(h.dir, 'lib-evil') }),
      ManifestError,
    );
  } finally {
    await dl.close();
  }
});
