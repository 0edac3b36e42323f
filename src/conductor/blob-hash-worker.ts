/**
 * The body of the worker thread that hashes a growing data file's contiguous prefix. The conductor
 * posts the verified prefix end as pieces complete; the worker reads those bytes back from the page
 * cache and hashes them, so SHA-256 runs on the second core while the main thread keeps the sockets
 * busy, and the blob is never read again after the download.
 *
 * It is started from its source text (`new Worker(source, { eval: true })`), so it works the same
 * from `dist/` and from the single-file CLI bundle; that is why it receives `require` instead of
 * importing.
 *
 * @module
 * @internal
 */

/** Runs inside the worker. Must be self-contained: no references to anything outside it. */
export function hashWorkerMain(req: NodeJS.Require): void {
  const { parentPort, workerData } = req('node:worker_threads') as typeof import('node:worker_threads');
  const { createHash } = req('node:crypto') as typeof import('node:crypto');
  const fs = req('node:fs') as typeof import('node:fs');
  const { path, size, algorithm } = workerData as { path: string; size: number; algorithm: string };
  const hash = createHash(algorithm);
  const fd = fs.openSync(path, 'r');
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
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

/** Source text for `new Worker(…, { eval: true })` (eval workers run as CommonJS: `require` exists). */
export const HASH_WORKER_SOURCE = `(${hashWorkerMain.toString()})(require);`;
