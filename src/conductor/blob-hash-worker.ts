/**
 * Worker thread that hashes a growing data file's contiguous prefix. The conductor posts the
 * verified prefix end as pieces complete; we read those bytes back from the page cache and hash
 * them here, so SHA-256 runs on the second core while the main thread keeps the sockets busy,
 * and the blob is never read a second time after the download.
 *
 * @module
 * @internal
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { openSync, readSync, closeSync } from 'node:fs';

interface Init {
  path: string;
  size: number;
  algorithm: string;
}

const { path, size, algorithm } = workerData as Init;
const hash = createHash(algorithm);
const fd = openSync(path, 'r');
const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
let pos = 0;
let finished = false;

function hashTo(end: number): void {
  while (pos < end) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
    if (n === 0) throw new Error(`unexpected end of data file at ${pos} (wanted ${end})`);
    hash.update(buf.subarray(0, n));
    pos += n;
  }
  if (pos === size && !finished) {
    finished = true;
    closeSync(fd);
    parentPort!.postMessage({ digest: `${algorithm}:${hash.digest('hex')}` });
  }
}

parentPort!.on('message', (msg: { end: number }) => {
  try {
    hashTo(Math.min(msg.end, size));
  } catch (e) {
    parentPort!.postMessage({ error: (e as Error).message });
  }
});
