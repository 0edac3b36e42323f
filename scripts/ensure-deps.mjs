// Installs what the tests, demo and benchmarks need on a fresh clone: npm packages, then Debian's
// docker-registry (CNCF distribution) via apt-get when running as root. Never downloads a registry
// binary from anywhere else.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function ensureNpm() {
  if (
    !existsSync(path.join(root, 'node_modules', 'typescript')) ||
    !existsSync(path.join(root, 'node_modules', 'undici'))
  ) {
    console.log('[setup] npm ci');
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  }
}

export function ensureRegistry() {
  const missing = ['docker-registry', 'htpasswd', 'openssl'].filter((c) => !have(c));
  if (missing.length === 0) return;
  const pkgs = { 'docker-registry': 'docker-registry', htpasswd: 'apache2-utils', openssl: 'openssl' };
  const names = [...new Set(missing.map((m) => pkgs[m]))];
  if (typeof process.getuid === 'function' && process.getuid() === 0 && have('apt-get')) {
    console.log(`[setup] apt-get install ${names.join(' ')}`);
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', ...names], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    // The Debian package starts a system registry on :5000 where systemd runs; ours use their own ports.
    return;
  }
  console.error(
    `[setup] missing ${missing.join(', ')}: install the Debian package(s) ${names.join(' ')} (e.g. sudo apt-get install -y ${names.join(' ')}) and run again.`,
  );
  process.exit(2);
}

export function build(project = 'tsconfig.test.json') {
  execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', project], { cwd: root, stdio: 'inherit' });
  // The published command is a single-file bundle of dist/cli (see scripts/bundle-cli.mjs).
  if (project === 'tsconfig.json')
    execFileSync(process.execPath, [path.join(root, 'scripts', 'bundle-cli.mjs')], { cwd: root, stdio: 'inherit' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  ensureNpm();
  ensureRegistry();
}
