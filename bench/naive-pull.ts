/**
 * The naive Node pull the first-pull targets are measured against (issue #10): one `http.get` of
 * the blob piped to `fs.createWriteStream`, `createHash('sha256')` updated on each chunk, the digest
 * compared at the end. argv: blobUrl output expectedDigest
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import http from 'node:http';

const [url, output, digest] = process.argv.slice(2) as [string, string, string];
const h = createHash('sha256');
http.get(url, (res) => {
  const out = createWriteStream(output);
  res.on('data', (c: Buffer) => h.update(c));
  res.pipe(out);
  out.on('finish', () => {
    const got = `sha256:${h.digest('hex')}`;
    if (got !== digest) {
      console.error(`digest mismatch: ${got}`);
      process.exit(1);
    }
  });
});
