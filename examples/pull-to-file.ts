/**
 * Pull one `oras://` reference to a file with {@link createDownloader}.
 *
 *   node .build/examples/pull-to-file.js oras://127.0.0.1:5000/lab/image:v1 [output]
 *   ORASFLY_REF=oras://… ORASFLY_OUTPUT="$(mktemp -d)/image.sif" node .build/examples/pull-to-file.js
 *
 * The task store is one directory in the system temp dir (shared by every run, so a second run
 * of the same content is a hard link) unless ORASFLY_DATA_PATH is set. Prints one JSON line with
 * the result (output path, digest, size, whether it was reused, cost).
 *
 * In your own code, import from the package: `import { createDownloader } from 'orasfly';`
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { createDownloader, OrasflyError } from '../src/index.js';

const ref = process.argv[2] ?? process.env['ORASFLY_REF'];
if (!ref) {
  console.error('usage: pull-to-file <oras://host[:port]/repo:tag> [output]');
  process.exit(2);
}
const output =
  process.argv[3] ??
  process.env['ORASFLY_OUTPUT'] ??
  path.join(await mkdtemp(path.join(os.tmpdir(), 'orasfly-example-')), 'image.sif');
// One store for every run: a new store per run would never reuse anything and leave a blob behind each time.
const dataPath = process.env['ORASFLY_DATA_PATH'] ?? path.join(os.tmpdir(), 'orasfly-example-store');

const dl = await createDownloader({
  // multiplex: a second pull of the same content is a hard link, not a download.
  storage: { dataPath, multiplex: true },
  // Loopback registries are plain HTTP automatically; anything else is HTTPS with verified TLS.
  oras: {},
});
try {
  const result = await dl.download({ url: ref, output });
  console.log(JSON.stringify(result));
} catch (e) {
  // Every orasfly error has a stable code (ERR_ORASFLY_*).
  console.error(e instanceof OrasflyError ? `${e.code}: ${e.message}` : e);
  process.exitCode = 1;
} finally {
  await dl.close();
}
