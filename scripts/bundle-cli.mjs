// Bundles the `orasfly` command into one file (dist/cli/orasfly.mjs). Node 20 spends ~1 ms per
// module it resolves and loads; the command touches ~100 (ours, undici's, debug, js-yaml), which
// was a third of a reuse pull's wall time. The library itself stays unbundled in dist/.
import { build } from 'esbuild';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Chunk names carry content hashes: old ones would pile up (and ship) without this.
rmSync(path.join(root, 'dist', 'cli', 'chunks'), { recursive: true, force: true });
const result = await build({
  metafile: true,
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
  banner: {
    js: [
      '// orasfly; the licences of the packages bundled in: THIRD-PARTY-NOTICES.txt beside this file.',
      "import { createRequire as __orasflyCreateRequire } from 'node:module';",
      'const require = __orasflyCreateRequire(import.meta.url);',
    ].join('\n'),
  },
  logLevel: 'warning',
  legalComments: 'linked',
  plugins: [
    {
      // debug tries require('supports-color') (optional, not installed): at run time that failed
      // resolution walks every node_modules directory up to the root, 3-5 ms of each start-up.
      // The command ships a stub that fails the same way at once (debug then picks basic colours).
      name: 'no-supports-color',
      setup(b) {
        b.onResolve({ filter: /^supports-color$/ }, () => ({ path: 'supports-color-stub', namespace: 'orasfly-stub' }));
        b.onLoad({ filter: /^supports-color-stub$/, namespace: 'orasfly-stub' }, () => ({
          contents: "throw new Error('supports-color is not bundled in the orasfly command');",
          loader: 'js',
        }));
      },
    },
    {
      // undici loads its HTTP/2 client (and node:http2, ~18 ms) eagerly, but only uses it when
      // `allowH2` is set and ALPN picks h2. orasfly passes `allowH2: false` explicitly
      // (createDispatcher), so the command ships a stub; the undici-modules test checks both.
      name: 'no-http2',
      setup(b) {
        b.onResolve({ filter: /^\.\/client-h2\.js$/ }, (args) =>
          /undici[\\/]lib[\\/]dispatcher$/.test(args.resolveDir)
            ? { path: 'client-h2-stub', namespace: 'orasfly-stub' }
            : undefined,
        );
        b.onLoad({ filter: /^client-h2-stub$/, namespace: 'orasfly-stub' }, () => ({
          contents:
            "module.exports = function connectH2() { throw new Error('HTTP/2 is not available in the orasfly command'); };",
          loader: 'js',
        }));
      },
    },
  ],
});

// The bundle inlines other packages' code, so it carries their licence notices: one file naming
// every package esbuild put in, with its version, licence and licence text.
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = /(?:^|[\\/])node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(input);
  if (m) packages.set(m[1].replace(/\\/g, '/'), path.join(root, input.slice(0, m.index + m[0].length)));
}
const notices = [...packages]
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([name, dir]) => {
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const file = existsSync(dir) ? readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f)) : undefined;
    if (!file) throw new Error(`${name} is bundled but ships no licence file; add its notice by hand`);
    return `${name} ${pkg.version} (${pkg.license})\n${'-'.repeat(72)}\n${readFileSync(path.join(dir, file), 'utf8').trim()}\n`;
  });
writeFileSync(
  path.join(root, 'dist', 'cli', 'THIRD-PARTY-NOTICES.txt'),
  `The orasfly command (dist/cli/orasfly.mjs and dist/cli/chunks/) includes code from these packages,\nunder their licences:\n\n${notices.join('\n')}`,
);
