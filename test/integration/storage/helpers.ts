// Shared helpers of the storage tests: temp dirs, tmpfs mounts, "downloads" simulated by writing
// pieces through a TaskWriter, and pull loops in child processes.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, promises as fsp, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { createPieceHasher } from '../../../src/storage/piece-digest.js';
import type { StorageManager, TaskEntry, TaskWriter } from '../../../src/storage/storage-manager.js';
import { builtFixturePath } from '../../harness/paths.js';

export const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
export const digestOf = (b: Uint8Array): string => `sha256:${sha256(b)}`;

/** A fresh directory under os.tmpdir(), removed after the test. */
export function tmpDir(t: TestContext, prefix = 'orasfly-storage-'): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Mounts a tmpfs of `size` (e.g. '8m') and returns its path; unmounted after the test. As root (CI)
 * a failure throws — these tests must not silently skip there; as non-root the test is skipped.
 */
export function mountTmpfs(t: TestContext, size: string): string | undefined {
  const d = mkdtempSync(path.join(os.tmpdir(), 'orasfly-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', d], { stdio: 'pipe' });
  } catch (e) {
    rmSync(d, { recursive: true, force: true });
    if (isRoot) throw new Error(`cannot mount a tmpfs at ${d} as root: ${(e as Error).message}`, { cause: e });
    t.skip('needs root to mount a tmpfs');
    return undefined;
  }
  t.after(() => {
    try {
      execFileSync('umount', ['-l', d], { stdio: 'pipe' });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
  return d;
}

/** A task id the way Dragonfly makes them (sha256 hex of a string). */
export const taskIdOf = (s: string): string => sha256(s);
let peerSeq = 0;
export const newPeerId = (): string => `127.0.0.1-${process.pid}-${randomBytes(8).toString('hex')}-${++peerSeq}`;

/** Writes `bytes` as pieces through a writer (all pieces, or those in `only`). */
export async function writePieces(
  w: TaskWriter,
  bytes: Uint8Array,
  only?: (n: number) => boolean,
  alg: 'crc32' | 'md5' = 'crc32',
): Promise<void> {
  for (let num = 0; num < w.totalPieces; num++) {
    if (w.pieces.has(num) || (only && !only(num))) continue;
    const start = num * w.pieceSize;
    const chunk = bytes.subarray(start, Math.min(start + w.pieceSize, bytes.length));
    await w.write(chunk, start);
    const h = createPieceHasher(alg);
    h.update(chunk);
    w.recordPiece({ num, range: { start, length: chunk.length }, digest: h.digest(), cost: 1000 });
  }
}

/** Simulates a whole download of `bytes` for `taskId`; returns the completed entry. */
export async function download(
  store: StorageManager,
  bytes: Uint8Array,
  o: { taskId: string; peerId?: string; pieceSize?: number; output?: string },
): Promise<TaskEntry> {
  const r = await store.beginTask({
    taskId: o.taskId,
    peerId: o.peerId ?? newPeerId(),
    digest: digestOf(bytes),
    contentLength: bytes.length,
    pieceSize: o.pieceSize ?? 64 * 1024,
    output: o.output,
  });
  if ('reuse' in r) return r.reuse;
  await writePieces(r.writer, bytes, undefined, store.options.pieceDigest);
  return r.writer.complete({ digest: digestOf(bytes) });
}

/** A pull: reuse when possible, else download, then materialise. Returns what happened. */
export async function pull(
  store: StorageManager,
  bytes: Uint8Array,
  o: { taskId: string; output: string; pieceSize?: number },
): Promise<{ reused: boolean; entry: TaskEntry }> {
  const hit = await store.findCompleted({ taskId: o.taskId, digest: digestOf(bytes) });
  if (hit) {
    try {
      await store.materialize(hit, o.output);
      return { reused: true, entry: hit };
    } catch {
      /* fall through to a download, as upstream does */
    }
  }
  const entry = await download(store, bytes, o);
  await store.materialize(entry, o.output);
  return { reused: false, entry };
}

export async function readAll(p: string): Promise<Buffer> {
  return fsp.readFile(p);
}

export async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

/** What a pull-loop child reports (`test/fixtures/pull-loop.ts`). */
export interface PullLoopResult {
  ok: number;
  failed: string[];
  /** Blob bytes the child fetched and used. */
  transferred: number;
}

/** Runs the pull-loop fixture in a child process: `count` pulls of `refs` in turn from one store. */
export function pullLoop(dataPath: string, outDir: string, count: number, refs: string[]): Promise<PullLoopResult> {
  const child = spawn(process.execPath, [builtFixturePath('pull-loop.js'), dataPath, outDir, String(count), ...refs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`exit ${code}: ${err}`)),
    ),
  );
}
