// `npm run prepare`, which npm runs on `npm ci`/`npm install` in a checkout, on `npm pack`, and when
// a project installs orasfly from a git URL or from a checkout's path: builds dist/ (tsc, then the
// CLI bundle), which the package's exports and its bin point into and which git does not hold.
//
// A git URL install gets the build tools (devDependencies) from npm itself. A path install
// (`npm i ../orasfly`, `npm i -g ./orasfly`) of a fresh clone does not: npm links the folder and runs
// this script in it with no node_modules there. So when the tools are missing, they are installed
// first, from the lock file, with scripts off (this script is the only one) and without the outer
// install's npm_config_* variables that say where and what to install, which would otherwise make
// that `npm ci` global or production-only (registry, cache and proxy settings are kept).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Everything goes to stderr: `npm pack --json` prints its JSON on the stdout this script shares.
const STDIO = ['ignore', 2, 2];
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tools = ['typescript', 'esbuild', 'undici'];
if (tools.some((t) => !existsSync(path.join(root, 'node_modules', t, 'package.json')))) {
  console.error('[prepare] installing the build tools: npm ci --ignore-scripts');
  const outer =
    /^npm_config_(global|location|prefix|omit|include|only|production|dry_run|install_links|install_strategy|global_style|legacy_bundling|package_lock(_only)?|save.*|workspaces?|include_workspace_root)$/i;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !outer.test(k)));
  execFileSync('npm', ['ci', '--ignore-scripts', '--include=dev', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: STDIO,
    env,
  });
}
execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: root, stdio: STDIO });
execFileSync(process.execPath, [path.join(root, 'scripts', 'bundle-cli.mjs')], { cwd: root, stdio: STDIO });
