// The store's registry records: manifests by digest (checked on every read), where tags pointed and
// when, loopback schemes. Anything unreadable is a miss; a store that cannot be written still pulls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RegistryCache } from '../../../src/storage/registry-cache.js';
import type { RegistryMemory } from '../../../src/source/oras/options.js';

let dir: string;
let n = 0;
before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-registry-cache-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh store root. */
function store(): string {
  const root = path.join(dir, `s${n++}`);
  mkdirSync(root);
  return root;
}

const manifestBytes = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [] }),
);
const digestOf = (b: Uint8Array, alg: 'sha256' | 'sha512' = 'sha256'): string =>
  `${alg}:${createHash(alg).update(b).digest('hex')}`;
const D = digestOf(manifestBytes);

/** Every regular file under `root`, relative. */
function files(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

test('a manifest round-trips by digest (sha256 and sha512), bytes and media type, under <store>/.registry/', async () => {
  const root = store();
  const c: RegistryMemory = new RegistryCache(root);
  assert.equal(await c.manifest(D), undefined);
  await c.putManifest(D, { bytes: manifestBytes, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
  const got = await c.manifest(D);
  assert.ok(got);
  assert.ok(Buffer.from(got.bytes).equals(manifestBytes));
  assert.equal(got.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.deepEqual(files(root), [path.join('.registry', 'manifests', 'sha256', D.slice('sha256:'.length))]);

  const D512 = digestOf(manifestBytes, 'sha512');
  await c.putManifest(D512, { bytes: manifestBytes, mediaType: '' });
  assert.equal((await c.manifest(D512))?.mediaType, '');
  // Another instance on the same store (another process) sees both.
  const other = new RegistryCache(root);
  assert.ok(Buffer.from((await other.manifest(D))!.bytes).equals(manifestBytes));
  assert.ok(await other.manifest(D512));
});

test('a tampered or damaged manifest file is a miss, never an error', async () => {
  const root = store();
  const c = new RegistryCache(root);
  await c.putManifest(D, { bytes: manifestBytes, mediaType: 'm' });
  const file = path.join(root, '.registry', 'manifests', 'sha256', D.slice(7));
  const record = JSON.parse(readFileSync(file, 'utf8')) as { bytes: string; mediaType: string };
  // Other bytes under the same digest: a miss (the registry is asked again).
  const forged = Buffer.from(manifestBytes.toString().replace('"layers":[]', '"layers":[{"x":1}]'));
  writeFileSync(file, JSON.stringify({ ...record, bytes: forged.toString('base64') }));
  assert.equal(await c.manifest(D), undefined);
  for (const junk of ['', '{', 'null', '[]', '"text"', '{"mediaType":1,"bytes":"AA=="}', '{"mediaType":"m"}']) {
    writeFileSync(file, junk);
    assert.equal(await c.manifest(D), undefined, `record ${JSON.stringify(junk)}`);
  }
  // A directory where the file should be.
  rmSync(file);
  mkdirSync(file);
  assert.equal(await c.manifest(D), undefined);
});

test('what is not a digest is neither read nor written (no path outside the store)', async () => {
  const root = store();
  const c = new RegistryCache(root);
  for (const bad of [
    'sha256:../../etc/passwd',
    'sha256:ABC',
    `md5:${'0'.repeat(32)}`,
    'latest',
    `sha256:${'0'.repeat(63)}`,
  ]) {
    await c.putManifest(bad, { bytes: manifestBytes, mediaType: 'm' });
    assert.equal(await c.manifest(bad), undefined);
    await c.putTag('r/x:latest', bad);
  }
  assert.deepEqual(files(root), []);
  assert.equal(await c.tag('r/x:latest'), undefined);
});

test('a tag round-trips with the time it was seen, per reference; a newer sighting replaces it', async () => {
  let now = 1_000;
  const root = store();
  const c = new RegistryCache(root, { now: () => now });
  assert.equal(await c.tag('127.0.0.1:5000/lab/cow:latest'), undefined);
  await c.putTag('127.0.0.1:5000/lab/cow:latest', D);
  assert.deepEqual(await c.tag('127.0.0.1:5000/lab/cow:latest'), { digest: D, seenAt: 1_000 });
  // Other tags, repositories and registries are other records.
  assert.equal(await c.tag('127.0.0.1:5000/lab/cow:v2'), undefined);
  assert.equal(await c.tag('127.0.0.1:5001/lab/cow:latest'), undefined);
  now = 5_000;
  const moved = `sha256:${'a'.repeat(64)}`;
  await c.putTag('127.0.0.1:5000/lab/cow:latest', moved);
  assert.deepEqual(await new RegistryCache(root).tag('127.0.0.1:5000/lab/cow:latest'), {
    digest: moved,
    seenAt: 5_000,
  });
  // Written whole: no temp file is left beside the records.
  assert.equal(files(root).filter((f) => f.includes('tags')).length, 1);
  assert.equal(files(root).length, 1);
});

test('malformed and foreign tag and scheme records are misses', async () => {
  const root = store();
  const c = new RegistryCache(root, { now: () => 7 });
  await c.putTag('h/r:t', D);
  await c.putScheme('127.0.0.1:5000', 'http');
  const [tagFile] = files(path.join(root, '.registry', 'tags'));
  const [hostFile] = files(path.join(root, '.registry', 'hosts'));
  const tagPath = path.join(root, '.registry', 'tags', tagFile!);
  const hostPath = path.join(root, '.registry', 'hosts', hostFile!);
  const tagRecords = [
    { reference: 'h/other:t', digest: D, seenAt: 7 }, // another reference's record under this name
    { reference: 'h/r:t', digest: 'sha256:nothex', seenAt: 7 },
    { reference: 'h/r:t', digest: D, seenAt: '7' },
    { reference: 'h/r:t', digest: D },
    { reference: 'h/r:t', digest: 42, seenAt: 7 },
  ];
  for (const r of tagRecords) {
    writeFileSync(tagPath, JSON.stringify(r));
    assert.equal(await c.tag('h/r:t'), undefined, JSON.stringify(r));
  }
  for (const junk of ['', 'not json', '[1]', '0']) {
    writeFileSync(tagPath, junk);
    assert.equal(await c.tag('h/r:t'), undefined);
    writeFileSync(hostPath, junk);
    assert.equal(await c.scheme('127.0.0.1:5000'), undefined);
  }
  const hostRecords = [
    { host: '127.0.0.1:5001', scheme: 'http', seenAt: 7 },
    { host: '127.0.0.1:5000', scheme: 'ftp', seenAt: 7 },
    { host: '127.0.0.1:5000', scheme: 'http' },
  ];
  for (const r of hostRecords) {
    writeFileSync(hostPath, JSON.stringify(r));
    assert.equal(await c.scheme('127.0.0.1:5000'), undefined, JSON.stringify(r));
  }
});

test('a scheme round-trips per host with its time', async () => {
  let now = 10;
  const c = new RegistryCache(store(), { now: () => now });
  assert.equal(await c.scheme('127.0.0.1:5000'), undefined);
  await c.putScheme('127.0.0.1:5000', 'http');
  now = 20;
  await c.putScheme('[::1]:5000', 'https');
  assert.deepEqual(await c.scheme('127.0.0.1:5000'), { scheme: 'http', seenAt: 10 });
  assert.deepEqual(await c.scheme('[::1]:5000'), { scheme: 'https', seenAt: 20 });
});

test('a store that cannot be written still answers: writes are lost quietly, reads miss', async () => {
  const root = store();
  // `.registry` is a file: no directory can be made under it (whoever runs the test, root included).
  writeFileSync(path.join(root, '.registry'), 'not a directory');
  const blocked = new RegistryCache(root);
  await blocked.putManifest(D, { bytes: manifestBytes, mediaType: 'm' });
  await blocked.putTag('h/r:t', D);
  await blocked.putScheme('h', 'http');
  assert.equal(await blocked.manifest(D), undefined);
  assert.equal(await blocked.tag('h/r:t'), undefined);
  assert.equal(await blocked.scheme('h'), undefined);

  // A store root that is missing and cannot be made (its parent is a file).
  const file = path.join(dir, `file${n++}`);
  writeFileSync(file, '');
  const missing = new RegistryCache(path.join(file, 'store'));
  await missing.putTag('h/r:t', D);
  assert.equal(await missing.tag('h/r:t'), undefined);

  // A read-only records directory (a no-op for root, which may write anyway: then the record is there).
  const ro = store();
  const c = new RegistryCache(ro);
  await c.putTag('h/r:t', D);
  const tags = path.join(ro, '.registry', 'tags');
  chmodSync(tags, 0o500);
  try {
    await c.putTag('h/r:t2', D);
    await c.putManifest(D, { bytes: manifestBytes, mediaType: 'm' });
  } finally {
    chmodSync(tags, 0o700);
  }
  assert.equal((await c.tag('h/r:t'))?.digest, D);
});

test('sweep removes records written before the cut-off, temp files included, and keeps the rest', async () => {
  const { utimesSync } = await import('node:fs');
  const root = store();
  const old = new RegistryCache(root, { now: () => Date.now() });
  await old.putManifest(D, { bytes: manifestBytes, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
  await old.putTag('r.example/lab/app:v1', D);
  await old.putScheme('127.0.0.1:5000', 'http');
  const tagsDir = path.join(root, '.registry', 'tags');
  writeFileSync(path.join(tagsDir, '.orasfly-tmp-dead.json.1234'), '{');
  // Everything so far was last written two days ago.
  const twoDaysAgo = (Date.now() - 2 * 86_400_000) / 1000;
  for (const sub of ['manifests/sha256', 'tags', 'hosts'])
    for (const f of readdirSync(path.join(root, '.registry', sub)))
      utimesSync(path.join(root, '.registry', sub, f), twoDaysAgo, twoDaysAgo);
  await old.putTag('r.example/lab/app:v2', D); // fresh
  const removed = await old.sweep(Date.now() - 86_400_000);
  assert.equal(removed, 4);
  assert.equal(await old.manifest(D), undefined);
  assert.equal(await old.tag('r.example/lab/app:v1'), undefined);
  assert.equal(await old.scheme('127.0.0.1:5000'), undefined);
  assert.equal((await old.tag('r.example/lab/app:v2'))?.digest, D);
  assert.equal(await new RegistryCache(path.join(dir, 'no-such-store')).sweep(Date.now()), 0);
});
