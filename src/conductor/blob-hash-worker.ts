/**
 * The body of the worker thread that hashes a growing data file's contiguous prefix. The conductor
 * posts the verified prefix end as pieces complete; the worker reads those bytes back from the page
 * cache and hashes them, so SHA-256 runs on the second core while the main thread keeps the sockets
 * busy, and the blob is never read again after the download.
 *
 * It is started from its source text (`new Worker(source, { eval: true })`), so it works the same
 * from `dist/` and from the single-file CLI bundle. Eval code runs as CommonJS or as an ES module
 * depending on the parent's `--input-type`, so it reaches built-ins through
 * `process.getBuiltinModule` (Node ≥ 20.16), which both have.
 *
 * @module
 * @internal
 */

/** Runs inside the worker. Must be self-contained: no references to anything outside it. */
export function hashWorkerMain(builtin: NodeJS.Process['getBuiltinModule']): void {
  const { parentPort, workerData } = builtin('node:worker_threads');
  const { createHash } = builtin('node:crypto');
  const fs = builtin('node:fs');
  const { path, size, algorithm } = workerData as { path: string; size: number; algorithm: string };
  const hash = createHash(algorithm);
  const fd = fs.openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  let pos = 0;
  let finished = false;
  const hashTo = (end: number): void => {
    while (pos < end) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
      if (n === 0) throw new Error(`unexpected end of data file at ${pos} (wanted ${end})`);
      hash.update(buf.subarray(0, n));
      pos += n;
    }
    if (pos === size && !finished) {
      finished = true;
      fs.closeSync(fd);
      parentPort!.postMessage({ digest: `${algorithm}:${hash.digest('hex')}` });
    }
  };
  parentPort!.on('message', (msg: { end: number }) => {
    try {
      hashTo(Math.min(msg.end, size));
    } catch (e) {
      parentPort!.postMessage({ error: (e as Error).message });
    }
  });
}

/** Source text for `new Worker(…, { eval: true })`. */
export const HASH_WORKER_SOURCE = `(${hashWorkerMain.toString()})(process.getBuiltinModule);`;
