/**
 * The body of the worker thread that hashes a growing data file's contiguous prefix. The conductor
 * posts the verified prefix end as pieces complete; the worker reads those bytes back from the page
 * cache and hashes them, so SHA-256 runs on the second core while the main thread keeps the sockets
 * busy, and the blob is never read again after the download.
 *
 * It is started from its source text (`new Worker(source, { eval: true })`), so it works the same
 * from `dist/` and from the single-file CLI bundle. Eval code runs as CommonJS or as an ES module
 * depending on the parent's `--input-type`, so it reaches built-ins through
 * `process.getBuiltinModule` (Node ≥ 20.16), which both have. Plain JavaScript: it is not compiled
 * by TypeScript, and its test runs it.
 *
 * @module
 * @internal
 */

/**
 * Source text for `new Worker(…, { eval: true })`. A string, not a function's `toString()`: the
 * command's bundle is minified, and a function's text would then name bundle helpers (esbuild's
 * `__name`) that the worker does not have.
 */
export const HASH_WORKER_SOURCE = `(() => {
  const builtin = process.getBuiltinModule;
  const { parentPort, workerData } = builtin('node:worker_threads');
  const { createHash } = builtin('node:crypto');
  const fs = builtin('node:fs');
  const { path, size, algorithm } = workerData;
  const hash = createHash(algorithm);
  const fd = fs.openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  let pos = 0;
  let finished = false;
  parentPort.on('message', (msg) => {
    try {
      const end = Math.min(msg.end, size);
      while (pos < end) {
        const n = fs.readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
        if (n === 0) throw new Error('unexpected end of data file at ' + pos + ' (wanted ' + end + ')');
        hash.update(buf.subarray(0, n));
        pos += n;
      }
      if (pos === size && !finished) {
        finished = true;
        fs.closeSync(fd);
        parentPort.postMessage({ digest: algorithm + ':' + hash.digest('hex') });
      }
    } catch (e) {
      parentPort.postMessage({ error: e.message });
    }
  });
})();`;
