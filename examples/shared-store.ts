/**
 * Two processes sharing one task store (`dataPath`). The parent forks itself twice; both children
 * request the same reference at the same time. The store's cross-process task lock lets one of them
 * download while the other waits, then reuses the completed entry: both outputs are hard links to
 * one inode, and the blob was fetched once.
 *
 *   node .build/examples/shared-store.js oras://127.0.0.1:5000/lab/image:v1
 *
 * Prints one JSON line per child and a summary line `{"inodes":[…],"sameInode":true,…}`.
 *
 * In your own code, import from the package: `import { createDownloader } from 'orasfly';`
 */
import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createDownloader } from '../src/index.js';

/** What each child reports to the parent. */
interface ChildReport {
  pid: number;
  output: string;
  ino: number;
  nlink: number;
  reused: boolean;
  joined: boolean;
  waitedForLock: boolean;
  digest: string;
  costMs: number;
}

async function child(ref: string, dataPath: string, output: string): Promise<ChildReport> {
  const dl = await createDownloader({ storage: { dataPath, multiplex: true } });
  let waitedForLock = false;
  // Emitted when another live process holds this task's lock (it is downloading the same task).
  dl.storage.on('lockWait', () => (waitedForLock = true));
  try {
    const r = await dl.download({ url: ref, output });
    const st = await stat(output);
    return {
      pid: process.pid,
      output,
      ino: st.ino,
      nlink: st.nlink,
      reused: r.reused,
      joined: r.joined,
      waitedForLock,
      digest: r.digest,
      costMs: r.costMs,
    };
  } finally {
    await dl.close();
  }
}

async function parent(ref: string): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'orasfly-shared-'));
  const dataPath = path.join(work, 'store');
  const self = fileURLToPath(import.meta.url);
  const run = (name: string) =>
    new Promise<ChildReport>((resolve, reject) => {
      const p = fork(self, ['--child', ref, dataPath, path.join(work, 'out', name)], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      let report: ChildReport | undefined;
      p.on('message', (m) => (report = m as ChildReport));
      p.on('error', reject);
      p.on('exit', (code) =>
        report && code === 0 ? resolve(report) : reject(new Error(`child ${name} exited with ${code}`)),
      );
    });
  try {
    const reports = await Promise.all([run('image1.sif'), run('image2.sif')]);
    for (const r of reports) console.log(JSON.stringify(r));
    const inodes = [...new Set(reports.map((r) => r.ino))];
    console.log(
      JSON.stringify({ inodes, sameInode: inodes.length === 1, downloads: reports.filter((r) => !r.reused).length }),
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  const [, ref, dataPath, output] = args as [string, string, string, string];
  try {
    const report = await child(ref, dataPath, output);
    // Disconnect once sent: an open IPC channel would keep this child alive.
    process.send!(report, () => process.disconnect());
  } catch (e) {
    console.error(e);
    process.exitCode = 1;
  }
} else {
  const ref = args[0] ?? process.env['ORASFLY_REF'];
  if (!ref) {
    console.error('usage: shared-store <oras://host[:port]/repo:tag>');
    process.exit(2);
  }
  await parent(ref);
}
