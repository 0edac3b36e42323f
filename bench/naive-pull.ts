/**
 * The naive Node pull the first-pull targets are measured against (issue #10): one `http.get` (or
 * `https.get` for an https URL) of the blob piped to `fs.createWriteStream`, `createHash('sha256')`
 * updated on each chunk, the digest compared at the end. argv: blobUrl output expectedDigest [caFile]
 * (caFile: PEM of the CA an https registry's certificate is checked against).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const [url, output, digest, caFile] = process.argv.slice(2) as [string, string, string, string | undefined];
const h = createHash('sha256');
const onResponse = (res: http.IncomingMessage) => {
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
};
if (url.startsWith('https:')) https.get(url, caFile ? { ca: readFileSync(caFile) } : {}, onResponse);
else http.get(url, onResponse);
