// Benchmark of the task store: materialising a completed 1 MiB and 1 GiB task (50 times each, to new
// paths, in-process), and piece-hash throughput of crc32 vs md5 (plus sha256, the blob digest, for
// scale) over 256 MiB. Run: npm run build:test && node .build/bench/storage-materialize.js
//
// The 1 GiB task is a sparse file (one byte written at the end, pieces recorded with the checksum
// of a zero piece): materialising is a link + rename whose cost does not depend on the bytes, and a
// sparse file keeps the benchmark fast and light on disk. Its size — what the fingerprint checks — is real.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import { createPieceHasher } from '../src/storage/piece-digest.js';
import { StorageManager, type TaskEntry } from '../src/storage/storage-manager.js';

const MiB = 1024 * 1024;
const root = mkdtempSync(path.join(os.tmpdir(), 'orasfly-bench-'));

function stats(xs: number[]): { median: number; p95: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, p95: s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]! };
}

async function makeTask(store: StorageManager, name: string, size: number, sparse: boolean): Promise<TaskEntry> {
  const pieceSize = 4 * MiB;
  const digest = `sha256:${createHash('sha256').update(name).digest('hex')}`; // a label: the store does not re-hash
  const r = await store.beginTask({
    taskId: createHash('sha256').update(name).digest('hex'),
    peerId: `127.0.0.1-${process.pid}-${name}`,
    digest,
    contentLength: size,
    pieceSize,
  });
  if (!('writer' in r)) return r.reuse;
  const w = r.writer;
  const zero = Buffer.alloc(pieceSize);
  for (let num = 0; num < w.totalPieces; num++) {
    const start = num * pieceSize;
    const length = Math.min(pieceSize, size - start);
    const chunk = sparse ? zero.subarray(0, length) : randomBytes(length);
    if (!sparse) await w.write(chunk, start);
    const h = createPieceHasher('crc32');
    h.update(chunk);
    w.recordPiece({ num, range: { start, length }, digest: h.digest() });
  }
  if (sparse) await w.write(Buffer.alloc(1), size - 1);
  return w.complete({ digest });
}

async function timeMaterialize(
  store: StorageManager,
  e: TaskEntry,
  label: string,
): Promise<{ median: number; p95: number }> {
  const dir = path.join(root, `out-${label}`);
  const times: number[] = [];
  for (let i = 0; i < 55; i++) {
    const t0 = performance.now();
    await store.materialize(e, path.join(dir, `img-${i}.sif`));
    if (i >= 5) times.push(performance.now() - t0); // 5 warm-up rounds
  }
  return stats(times);
}

function hashRate(make: () => { update(b: Uint8Array): void; digest(): string }): number {
  const buf = randomBytes(4 * MiB);
  const total = 256 * MiB;
  const t0 = performance.now();
  for (let done = 0; done < total; done += buf.length) {
    const h = make();
    h.update(buf);
    h.digest();
  }
  return total / MiB / ((performance.now() - t0) / 1000);
}

try {
  const store = await StorageManager.open({ dataPath: path.join(root, 'data'), gcInterval: 0 });
  const small = await makeTask(store, 'small', MiB, false);
  const big = await makeTask(store, 'big', 1024 * MiB, true);
  const m1 = await timeMaterialize(store, small, '1m');
  const m2 = await timeMaterialize(store, big, '1g');
  const crc = hashRate(() => createPieceHasher('crc32'));
  const md5 = hashRate(() => createPieceHasher('md5'));
  const sha = hashRate(() => {
    const h = createHash('sha256');
    return { update: (b: Uint8Array) => void h.update(b), digest: () => h.digest('hex') };
  });
  await store.close();
  const row = (a: string, b: string, c: string): string => `${a.padEnd(34)}${b.padStart(12)}${c.padStart(12)}`;
  console.log(
    `orasfly storage benchmark — node ${process.version}, ${os.cpus()[0]?.model ?? '?'} ×${os.cpus().length}, tmpdir ${os.tmpdir()}`,
  );
  console.log('');
  console.log(row('materialise (50 runs, link + rename)', 'median ms', 'p95 ms'));
  console.log(row('  1 MiB task', m1.median.toFixed(3), m1.p95.toFixed(3)));
  console.log(row('  1 GiB task (sparse)', m2.median.toFixed(3), m2.p95.toFixed(3)));
  console.log('');
  console.log(row('piece hash over 256 MiB (4 MiB pieces)', 'MB/s', 'vs md5'));
  console.log(row('  crc32 (zlib.crc32)', crc.toFixed(0), `${(crc / md5).toFixed(1)}×`));
  console.log(row('  md5', md5.toFixed(0), '1.0×'));
  console.log(row('  sha256 (blob digest, for scale)', sha.toFixed(0), `${(sha / md5).toFixed(1)}×`));
} finally {
  rmSync(root, { recursive: true, force: true });
}
