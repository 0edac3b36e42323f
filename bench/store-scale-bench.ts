/**
 * The task store at scale (issue #9's figures), against the harness registry on 127.0.0.1:
 *  1. a reuse pull as a whole `orasfly` CLI process with 10,000 tasks in the store vs with 1,
 *     alternating pairs, medians: wall, CPU (user + sys) and peak RSS from /usr/bin/time;
 *  2. `StorageManager.open` at 10,000 tasks (in-process, median);
 *  3. a GC round over 10,000 entries (dry run and a real round that reclaims nothing), and a
 *     reuse pull whose process also ran the round (the once-per-gcInterval case).
 *
 * The 9,999 extra entries are written straight to disk in the store's own format (metadata,
 * data, digest index), as completed pulls leave them.
 *
 * Env: BENCH_TASKS (default 10000), BENCH_PAIRS (default 11).
 */
import { spawnSync } from 'node:child_process';
import { measure, median, orasflyPull, type Sample } from './measure.js';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, mkdir, writeFile, stat, utimes, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startRegistry, pushSif } from '../test/harness/index.js';
import { StorageManager } from '../src/storage/storage-manager.js';
import { encodeMetadata, METADATA_VERSION } from '../src/storage/metadata.js';
import { bootId } from '../src/storage/validate.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 11);

/** One CLI run, measured. */

/** Writes `n` completed entries of 1 KiB each, in the store's format. */
async function fillStore(dataPath: string, n: number): Promise<void> {
  const boot = bootId();
  for (let i = 0; i < n; i++) {
    const data = Buffer.from(`synthetic entry ${i} `.padEnd(1024, '.'));
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const taskId = createHash('sha256').update(`synthetic-${i}`).digest('hex');
    const peerId = `10.0.0.1-1-${i.toString(16).padStart(8, '0')}`;
    const peerDir = path.join(dataPath, taskId, peerId);
    await mkdir(peerDir, { recursive: true });
    const dataFile = path.join(peerDir, 'data');
    await writeFile(dataFile, data);
    const st = await stat(dataFile);
    const now = Date.now() - i * 1000;
    const meta = encodeMetadata({
      storeStrategy: 'io.d7y.storage.v2.simple',
      taskId,
      taskMeta: {},
      contentLength: data.length,
      totalPieces: 1,
      peerId,
      pieces: new Map([[0, { num: 0, range: { start: 0, length: data.length }, digest: 'crc32:00000000' }]]),
      pieceMd5Sign: '',
      dataFilePath: dataFile,
      done: true,
      header: null,
      ext: {
        version: METADATA_VERSION,
        digest,
        pieceDigest: 'crc32',
        pieceSize: 4 << 20,
        lastAccess: now,
        completedAt: now,
        fingerprint: { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs },
        storeLink: 'self',
        bootId: boot,
        url: `oras://synthetic/${i}:v1`,
      },
    });
    await writeFile(path.join(peerDir, 'metadata'), meta);
    await utimes(path.join(peerDir, 'metadata'), now / 1000, now / 1000);
    const hex = digest.slice('sha256:'.length);
    await mkdir(path.join(dataPath, '.index', 'sha256'), { recursive: true });
    await writeFile(path.join(dataPath, '.index', 'sha256', hex), JSON.stringify({ taskId, peerId }));
  }
}

async function main(): Promise<void> {
  console.log(
    `# store at scale — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${TASKS} tasks, ${PAIRS} alternating pairs`,
  );
  const reg = await startRegistry({ variant: 'anonymous' });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-scale-'));
  try {
    await pushSif(reg, 'scale/sif', 'v1', { size: 4 * 1024 * 1024, seed: 3 });
    const ref = reg.ref('scale/sif:v1');
    const small = path.join(dir, 'store-1');
    const big = path.join(dir, `store-${TASKS}`);
    const log = path.join(dir, 'log');
    const pull = (store: string, out: string) => measure(orasflyPull(ref, { out, store, log }));
    pull(small, path.join(dir, 'first-small.sif'));
    pull(big, path.join(dir, 'first-big.sif'));
    const t0 = performance.now();
    await fillStore(big, TASKS - 1);
    // Written-back before measuring: pending writeback of 20,000 small files would slow whichever run meets it.
    spawnSync('sync');
    console.log(`filled the store with ${TASKS - 1} more entries in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // A pull that finds a GC round due (its stamp removed) hands it to a detached `orasfly cache gc`:
    // measured on its own; the round's own cost is read from core.log after the pairs.
    await rm(path.join(big, '.gc', 'stamp'), { force: true });
    const bigLog = path.join(dir, 'log-big');
    const withGc = measure(orasflyPull(ref, { out: path.join(dir, 'gc-run.sif'), store: big, log: bigLog }));
    // Let the detached round finish first: it would slow whichever pulls it overlaps.
    const bigCore = path.join(bigLog, 'dfget', 'core.log');
    for (
      let waited = 0;
      waited < 120_000 && !/gc round done/.test(await readFile(bigCore, 'utf8').catch(() => ''));
      waited += 100
    )
      await new Promise((r) => setTimeout(r, 100));
    pull(small, path.join(dir, 'warm-small.sif'));

    const s: Sample[] = [];
    const b: Sample[] = [];
    for (let i = 0; i < PAIRS; i++) {
      // Alternate which goes first, so drift hits both alike.
      if (i % 2 === 0) {
        s.push(pull(small, path.join(dir, `s-${i}.sif`)));
        b.push(pull(big, path.join(dir, `b-${i}.sif`)));
      } else {
        b.push(pull(big, path.join(dir, `b-${i}.sif`)));
        s.push(pull(small, path.join(dir, `s-${i}.sif`)));
      }
    }
    const row = (name: string, xs: Sample[], base?: Sample[]) => {
      const w = median(xs.map((x) => x.wallMs));
      const c = median(xs.map((x) => x.cpuMs));
      const r = median(xs.map((x) => x.rssKiB));
      const ratio = base ? (w / median(base.map((x) => x.wallMs))).toFixed(2) : '1.00';
      return `| ${name} | ${w.toFixed(0)} ms | ${c.toFixed(0)} ms | ${(r / 1024).toFixed(1)} MiB | ${ratio} |`;
    };
    console.log('\n## reuse pull as a whole CLI process (medians)');
    console.log('| store | wall | CPU (user+sys) | peak RSS | ÷ 1 task |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    console.log(row('1 task', s));
    console.log(row(`${TASKS} tasks`, b, s));
    console.log(
      `samples (wall ms): 1 task ${s.map((x) => x.wallMs.toFixed(0)).join(' ')}; ${TASKS} tasks ${b.map((x) => x.wallMs.toFixed(0)).join(' ')}`,
    );
    console.log(
      `| ${TASKS} tasks, the run that found a GC round due and handed it off (once per gcInterval) ` +
        `| ${withGc.wallMs.toFixed(0)} ms | ${withGc.cpuMs.toFixed(0)} ms | ${(withGc.rssKiB / 1024).toFixed(1)} ` +
        `MiB | ${(withGc.wallMs / median(s.map((x) => x.wallMs))).toFixed(2)} |`,
    );
    const round = /gc round done, scanned: (\d+), reclaimed: (\d+).*cost: (\d+)ms/.exec(
      await readFile(bigCore, 'utf8').catch(() => ''),
    );
    console.log(
      round
        ? `the handed-off round (detached \`orasfly cache gc\`): scanned ${round[1]}, reclaimed ${round[2]}, ${round[3]} ms`
        : 'the handed-off round had not finished when the pairs ended',
    );

    const opens: number[] = [];
    for (let i = 0; i < 21; i++) {
      const t = performance.now();
      const m = await StorageManager.open({ dataPath: big, gcInterval: 0 });
      opens.push(performance.now() - t);
      await m.close();
    }
    console.log(
      `\n## StorageManager.open at ${TASKS} tasks: median ${median(opens).toFixed(2)} ms ` +
        `(min ${Math.min(...opens).toFixed(2)}, max ${Math.max(...opens).toFixed(2)}, 21 opens)`,
    );

    const store = await StorageManager.open({
      dataPath: big,
      gcInterval: 0,
      taskExpireTime: 0,
      diskGCThresholdPercent: 0,
    });
    const dry: number[] = [];
    for (let i = 0; i < 3; i++) dry.push((await store.gc({ dryRun: true })).costMs);
    const real = await store.gc();
    const mem = process.memoryUsage().rss;
    await store.close();
    console.log(`\n## GC round over ${real.scanned} entries`);
    console.log(`- dry run: median ${median(dry).toFixed(0)} ms (3 rounds)`);
    console.log(
      `- real round (nothing due): ${real.costMs} ms, reclaimed ${real.reclaimed.length}; process RSS after the rounds ${(mem / 1024 / 1024).toFixed(0)} MiB`,
    );
  } finally {
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
