// The least a warm-daemon pull can cost: a Node process that does nothing but the adoption's one
// read of the file with its checks (the blob's sha256, each piece's crc32; `whole-file-check.ts`).
// warm-daemon-bench.ts runs it on a pulled copy of its blob and prints it beside the pulls.
//
// argv: FILE SIZE DIGEST
import { checkWholeFile } from '../src/conductor/whole-file-check.js';
import { planPieces } from '../src/core/piece-plan.js';

const [file, size, digest] = process.argv.slice(2);
const c = await checkWholeFile(file!, planPieces(Number(size)), 'crc32', digest!);
if (c?.blob !== digest) {
  console.error(`${file}: ${c ? `digest ${c.blob}` : 'not a file of that size'}, expected ${digest}`);
  process.exit(1);
}
