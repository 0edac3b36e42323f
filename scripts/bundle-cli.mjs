// Bundles the `orasfly` command into one file (dist/cli/orasfly.mjs). Node 20 spends ~1 ms per
// module it resolves and loads; the command touches ~100 (ours, undici's, debug, js-yaml), which
// was a third of a reuse pull's wall time. The library itself stays unbundled in dist/.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: { orasfly: path.join(root, 'dist', 'cli', 'bin.js') },
  outdir: path.join(root, 'dist', 'cli'),
  outExtension: { '.js': '.mjs' },
  // Code behind dynamic imports (the conductor, the YAML loader, the cache commands) goes to chunks
  // that a reuse pull never loads: parsing the whole bundle was a third of its start-up.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  // CommonJS dependencies (undici, debug) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __orasflyCreateRequire } from 'node:module';\nconst require = __orasflyCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'linked',
  plugins: [
    {
      // undici loads its HTTP/2 client (and node:http2, ~18 ms) eagerly, but only uses it when
      // `allowH2` is set and ALPN picks h2. orasfly passes `allowH2: false` explicitly
      // (createDispatcher), so the command ships a stub; the undici-modules test checks both.
      name: 'no-http2',
      setup(b) {
        b.onResolve({ filter: /^\.\/client-h2\.js$/ }, (args) =>
          /undici[\\/]lib[\\/]dispatcher$/.test(args.resolveDir) ? { path: 'client-h2-stub', namespace: 'orasfly-stub' } : undefined,
        );
        b.onLoad({ filter: /.*/, namespace: 'orasfly-stub' }, () => ({
          contents: "module.exports = function connectH2() { throw new Error('HTTP/2 is not available in the orasfly command'); };",
          loader: 'js',
        }));
      },
    },
  ],
});
