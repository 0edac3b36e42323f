// Bundles the `orasfly` command: dist/cli/orasfly-main.cjs (the whole command, one CommonJS file)
// and dist/cli/orasfly.cjs (the executable, a launcher that runs it through V8's code cache; see
// src/cli/launcher.ts). Node 20 spends ~1 ms per module it resolves and loads, and its ESM loader
// can use no code cache: one CommonJS file, compiled from the bytecode of an earlier reuse, starts
// a reuse pull ~25 ms sooner than the chunked ESM bundle this replaced. Code a reuse never runs is
// only scanned, never compiled. The library itself stays unbundled ESM in dist/.
import { build } from 'esbuild';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAUNCHER_PROLOGUE } from '../dist/cli/deferred-extra-ca.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli');
// What earlier builds wrote (the chunked ESM bundle) must not ship.
rmSync(path.join(cli, 'chunks'), { recursive: true, force: true });
rmSync(path.join(cli, 'orasfly.mjs'), { force: true });
rmSync(path.join(cli, 'orasfly.mjs.LEGAL.txt'), { force: true });
// The sources are ESM: import.meta.url becomes the CommonJS file's own URL.
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20.19',
  define: { 'import.meta.url': '__orasflyUrl' },
  // A smaller file to read and a smaller code cache (1.0 MB instead of 1.35). Names are kept:
  // errors take their `name` from their class. (So a worker must not run from a function's text,
  // which would name esbuild's `__name` helper: blob-hash-worker.ts is a string.)
  minify: true,
  keepNames: true,
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
};
const urlOfThisFile = "const __orasflyUrl = require('node:url').pathToFileURL(__filename).href;";
const result = await build({
  ...common,
  metafile: true,
  entryPoints: [path.join(cli, 'bin.js')],
  outfile: path.join(cli, 'orasfly-main.cjs'),
  // Run by the launcher, or by node itself (a GC round's child process); both keep bin.ts's `#!`.
  banner: {
    js: [
      "'use strict';",
      '// orasfly; the licences of the packages bundled in: THIRD-PARTY-NOTICES.txt beside this file.',
      urlOfThisFile,
    ].join('\n'),
  },
});
await build({
  ...common,
  entryPoints: [path.join(cli, 'launcher.js')],
  outfile: path.join(cli, 'orasfly.cjs'),
  banner: { js: ["'use strict';", urlOfThisFile].join('\n') },
});
// The executable starts as a shell script that keeps NODE_EXTRA_CA_CERTS from Node's start-up and
// execs node on the same file, which Node reads as JavaScript (src/cli/deferred-extra-ca.ts).
const launcher = path.join(cli, 'orasfly.cjs');
const launcherText = readFileSync(launcher, 'utf8');
if (!launcherText.startsWith('#!')) throw new Error('orasfly.cjs lost its #! line');
writeFileSync(launcher, LAUNCHER_PROLOGUE + launcherText.slice(launcherText.indexOf('\n') + 1), { mode: 0o755 });
chmodSync(launcher, 0o755);

// The launcher runs the bundle through vm.Script, which has no loader for a dynamic import(): every
// module must be inlined or required.
for (const f of ['orasfly-main.cjs', 'orasfly.cjs'])
  if (/\bimport\(/.test(readFileSync(path.join(cli, f), 'utf8')))
    throw new Error(`${f} has a dynamic import(), which the launcher cannot run: import or require it instead`);

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
  `The orasfly command (dist/cli/orasfly.cjs and dist/cli/orasfly-main.cjs) includes code from these packages,\nunder their licences:\n\n${notices.join('\n')}`,
);
