// `npm run demo:cluster`: orasfly on a Dragonfly cluster, without a cluster. Starts a local
// registry (behind a counting proxy), the protocol fake of dfdaemon from the test harness (no real
// daemon can be installed here), pushes a 64 MiB SIF, and pulls it as three "nodes" (three task
// stores) with `orasfly --endpoint <socket>`: the registry serves the blob once, to the daemon;
// the rest comes from the daemon's cache, as it would from peers. Then one pull with the daemon gone
// shows the fallback to the origin. Prints the commands and their lines; removes what it made.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureNpm, ensureRegistry, build } from './ensure-deps.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
ensureNpm();
ensureRegistry();
build('tsconfig.json');
build('tsconfig.test.json');
const harness = await import(pathToFileURL(path.join(root, '.build', 'test', 'harness', 'index.js')).href);
const { startFakeDfdaemon } = await import(
  pathToFileURL(path.join(root, '.build', 'test', 'harness', 'fake-dfdaemon.js')).href
);
const bin = path.join(root, 'dist', 'cli', 'orasfly.cjs');
const work = await mkdtemp(path.join(os.tmpdir(), 'orasfly-cluster-demo-'));
const MiB = 2 ** 20;
const registry = await harness.startRegistry({ variant: 'anonymous' });
const counter = await harness.startFaultProxy(registry.origin);
const daemon = await startFakeDfdaemon();
try {
  await harness.pushSif(registry, 'lab/solver', 'v2', { size: 64 * MiB, seed: 7 });
  const ref = registry.ref('lab/solver:v2', counter.host);
  console.log(`registry ${counter.host} (counting blob bytes), fake dfdaemon on ${daemon.socketPath}\n`);
  // Not spawnSync: the registry's counting proxy and the fake daemon live in this process.
  const run = async (node, extra) => {
    const args = [
      ref,
      '-O',
      path.join(work, node, 'solver.sif'),
      '--datadir',
      path.join(work, node, 'store'),
      '--logdir',
      path.join(work, node, 'log'),
      ...extra,
    ];
    console.log(`$ orasfly ${args.join(' ').replaceAll(work, '$WORK')}`);
    const r = await new Promise((resolve) => {
      const p = spawn(process.execPath, [bin, ...args]);
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (status) => resolve({ status, stdout, stderr }));
    });
    for (const line of r.stdout.split('\n'))
      if (/^(served by|finish total|download success|reused)/.test(line)) console.log(`  ${line}`);
    if (r.status !== 0) console.log(`  exit ${r.status}: ${r.stderr.trim().split('\n').at(-1)}`);
    console.log(`  registry blob bytes so far: ${counter.blobBytesSent()}\n`);
  };
  for (const node of ['node-a', 'node-b', 'node-c']) await run(node, ['--endpoint', daemon.socketPath]);
  await daemon.close();
  console.log('(the daemon is gone now)');
  await run('node-d', ['--endpoint', daemon.socketPath]);
  await run('node-e', ['--endpoint', daemon.socketPath, '--disable-back-to-source']);
} finally {
  await daemon.close().catch(() => {});
  await counter.close();
  await registry.stop();
  await rm(work, { recursive: true, force: true });
}
