// Bundles the `orasfly` command into one file (dist/cli/orasfly.mjs). Node 20 spends ~1 ms per
// module it resolves and loads; the command touches ~100 (ours, undici's, debug, js-yaml), which
// was a third of a reuse pull's wall time. The library itself stays unbundled in dist/.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [path.join(root, 'dist', 'cli', 'bin.js')],
  outfile: path.join(root, 'dist', 'cli', 'orasfly.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  // CommonJS dependencies (undici, debug) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __orasflyCreateRequire } from 'node:module';\nconst require = __orasflyCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'linked',
});
