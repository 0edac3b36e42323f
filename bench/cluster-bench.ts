// What each way of pulling through a Dragonfly daemon costs orasfly itself, against the protocol
// fake of dfdaemon (no real daemon runs here; the fake's own CPU is in this process and not counted):
// the origin directly, the daemon with output-path delivery, the daemon with inline piece content,
// and the daemon's proxy. The daemon has the blob cached (as after a peer served it), so the
// figures are orasfly's side only. Alternating rounds, medians of wall, CPU (user+sys), peak RSS.
//
// BENCH_CLUSTER_MIB (default 256), BENCH_ROUNDS (default 3).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pushSif, startRegistry } from '../test/harness/index.js';
import { startFakeDfdaemon } from '../test/harness/fake-dfdaemon.js';
import { startFakeDfdaemonProxy } from '../test/harness/fake-dfdaemon-proxy.js';
import { measureAsync, median, orasflyPull, type Sample } from './measure.js';

const MiB = 2 ** 20;
const size = Number(process.env['BENCH_CLUSTER_MIB'] ?? 256) * MiB;
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);

const work = await mkdtemp(path.join(os.tmpdir(), 'orasfly-cluster-bench-'));
const reg = await startRegistry({ variant: 'anonymous' });
const daemon = await startFakeDfdaemon();
const proxy = await startFakeDfdaemonProxy();
try {
  await pushSif(reg, 'bench/img', 'v1', { size, seed: 5 });
  const ref = reg.ref('bench/img:v1');
  const modes: Record<string, string[]> = {
    origin: [],
    'dfdaemon output-path': ['--endpoint', daemon.socketPath],
    'dfdaemon piece-content': ['--endpoint', daemon.socketPath, '--config', path.join(work, 'piece-content.yaml')],
    'dfdaemon proxy': ['--proxy-transport', proxy.url],
  };
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path.join(work, 'piece-content.yaml'), 'transport:\n  delivery: piece-content\n');
  // Warm the daemon's cache once.
  await measureAsync(
    orasflyPull(ref, { out: path.join(work, 'warm.sif'), store: path.join(work, 'warm') }, [
      '--endpoint',
      daemon.socketPath,
    ]),
  );
  const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(modes).map((k) => [k, []]));
  let i = 0;
  for (let r = 0; r < rounds; r++) {
    const names = Object.keys(modes);
    // Rotate the order each round: no mode always runs first on a cold page cache.
    for (const name of [...names.slice(r % names.length), ...names.slice(0, r % names.length)]) {
      const dir = path.join(work, `run${i++}`);
      samples[name]!.push(
        await measureAsync(
          orasflyPull(
            ref,
            { out: path.join(dir, 'out.sif'), store: path.join(dir, 'store'), log: path.join(dir, 'log') },
            modes[name],
          ),
        ),
      );
      await rm(dir, { recursive: true, force: true });
    }
  }
  // The daemon modes must really have gone through the daemon (a fallback would measure the origin).
  if (daemon.downloads.length !== 1 + 2 * rounds)
    throw new Error(`expected ${1 + 2 * rounds} daemon downloads, saw ${daemon.downloads.length}`);
  console.log(
    `\n#### orasfly's own cost per pull, ${size / MiB} MiB, daemon cache warm (bench/cluster-bench.ts, median of ${rounds})`,
  );
  console.log('| mode | wall | CPU (user+sys) | peak RSS |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [name, s] of Object.entries(samples)) {
    const secs = (pick: (x: Sample) => number) => (median(s.map(pick)) / 1000).toFixed(2);
    const rss = Math.round(median(s.map((x) => x.rssKiB)) / 1024);
    console.log(`| ${name} | ${secs((x) => x.wallMs)} s | ${secs((x) => x.cpuMs)} s | ${rss} MiB |`);
  }
} finally {
  await proxy.close();
  await daemon.close();
  await reg.stop();
  await rm(work, { recursive: true, force: true });
}
