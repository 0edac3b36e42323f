// `npm run demo`: replays the Dragonfly "oras resource client" walkthrough end to end.
//   1. starts a local registry (Debian's docker-registry, on 127.0.0.1, in a temp dir),
//   2. pushes a ~256 MiB SIF as image1:tag and the same blob as image2:tag,
//   3. pulls both with the seed page's dfget.yaml (advance strategy + multiplex) through the
//      `orasfly` command, printing dfget's lines,
//   4. shows one inode for both outputs (`ls -li` style) and greps `peer task done` from core.log,
// then removes everything it made. `npm run demo -- oras://host/repo:tag` pulls a ref of yours
// twice instead (no local registry).
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat, readFile, copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureNpm, ensureRegistry, build } from './ensure-deps.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const userRef = process.argv.slice(2).find((a) => a.startsWith('oras://'));
const extra = process.argv.slice(2).filter((a) => a !== userRef);
const MiB = 1024 * 1024;
const size = Number(process.env.DEMO_SIZE_MIB ?? 256) * MiB;

ensureNpm();
if (!userRef) ensureRegistry();
// The test suite runs the demo after building once; a user's run always builds.
if (!process.env.ORASFLY_DEMO_NO_BUILD) {
  build('tsconfig.json');
  build('tsconfig.test.json');
}

const bin = path.join(root, 'dist', 'cli', 'orasfly.cjs');
const work = await mkdtemp(path.join(os.tmpdir(), 'orasfly-demo-'));
const step = (s) => console.log(`\n\x1b[1m${s}\x1b[0m`);
let registry;
try {
  // The seed page's dfget.yaml, verbatim, plus where this demo keeps its store and logs.
  const config = path.join(work, 'dfget.yaml');
  await copyFile(path.join(root, 'test', 'fixtures', 'seed-dfget.yaml'), config);
  const dataDir = path.join(work, 'data');
  const logDir = path.join(work, 'log');
  const outDir = path.join(work, 'out');
  let refs;
  if (userRef) {
    refs = [userRef, userRef];
  } else {
    const harness = await import(pathToFileURL(path.join(root, '.build', 'test', 'harness', 'index.js')).href);
    step('Step 0: a local OCI registry with a SIF image under two names');
    registry = await harness.startRegistry({ variant: 'anonymous' });
    const t = performance.now();
    const image1 = await harness.pushSif(registry, 'image1', 'tag', { size, seed: 42 });
    await harness.tagBlobAs(registry, image1, 'image2', 'tag');
    console.log(
      `registry on ${registry.host}; pushed ${size / MiB} MiB as image1:tag and image2:tag in ${Math.round(performance.now() - t)} ms`,
    );
    console.log(`layer ${image1.layer.digest} (${image1.layer.mediaType})`);
    refs = [registry.ref('image1:tag'), registry.ref('image2:tag')];
  }
  step("Step 1: dfget.yaml (the seed page's, verbatim)");
  console.log((await readFile(config, 'utf8')).replace(/^/gm, '    '));

  const outputs = [path.join(outDir, 'image1'), path.join(outDir, 'image2')];
  for (let i = 0; i < 2; i++) {
    step(`Step 2.${i + 1}: orasfly -u "${refs[i]}" -O ${outputs[i]}`);
    const r = spawnSync(
      process.execPath,
      [bin, '-u', refs[i], '-O', outputs[i], '--config', config, '--datadir', dataDir, '--logdir', logDir, ...extra],
      {
        stdio: 'inherit',
      },
    );
    if (r.status !== 0) throw new Error(`pull ${i + 1} failed (exit ${r.status})`);
  }

  step('Step 3: the inode number of image1 and image2 should be same');
  for (const o of outputs) {
    const s = await stat(o);
    console.log(`${s.ino} -rw-r--r-- ${s.nlink} ${String(s.size).padStart(10)} ${path.relative(work, o)}`);
  }
  const [a, b] = await Promise.all(outputs.map((o) => stat(o)));
  console.log(a.ino === b.ino ? 'same inode: the second pull was a hard link, no blob download' : 'DIFFERENT inodes');

  step(`Step 4: grep "peer task done" ${path.join('<logdir>', 'dfget', 'core.log')}`);
  const log = await readFile(path.join(logDir, 'dfget', 'core.log'), 'utf8');
  for (const line of log.split('\n')) if (line.includes('peer task done')) console.log(line);
  if (a.ino !== b.ino && !userRef) process.exitCode = 1;
} catch (e) {
  console.error(`demo failed: ${e.message}`);
  process.exitCode = 1;
} finally {
  await registry?.stop();
  // A GC round handed to a detached `orasfly cache gc` may still be finishing in the store.
  await rm(work, { recursive: true, force: true, maxRetries: 10 });
}
