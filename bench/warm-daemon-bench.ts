// A warm Dragonfly daemon against the registry, on a real cluster (the Go scheduler and a Rust
// dfdaemon from ../shared/dragonfly, or $ORASFLY_DRAGONFLY_DIR; test/harness/real-cluster.ts): the
// daemon already holds the blob, orasfly has a fresh store, and takes the daemon's file whole (a hard
// link, verified in place) instead of copying it. Against a direct registry pull into a fresh store.
// Alternating rounds, medians of wall, CPU (user+sys), peak RSS. Without the binaries it says so.
//
// It also prints the floor: a Node process that only reads and checks the file (`whole-file-floor.ts`).
//
// BENCH_WARM_MIB (default 128), BENCH_ROUNDS (default 3).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pushSif, startRegistry } from '../test/harness/index.js';
import { locateDragonfly, startRealCluster } from '../test/harness/real-cluster.js';
import { measureAsync, median, orasflyPull, type Sample } from './measure.js';

const MiB = 2 ** 20;
const size = Number(process.env['BENCH_WARM_MIB'] ?? 128) * MiB;
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);

const where = locateDragonfly();
console.log(`# a warm Dragonfly daemon vs the registry (${size / MiB} MiB, medians of ${rounds} alternating rounds)`);
if ('absent' in where) {
  console.log(`\nnot run: ${where.absent}`);
} else {
  const work = await mkdtemp(path.join(os.tmpdir(), 'orasfly-warm-bench-'));
  const reg = await startRegistry({ variant: 'anonymous' });
  const cluster = await startRealCluster(where.dir, { daemons: 1 });
  try {
    const pushed = await pushSif(reg, 'bench/warm', 'v1', { size, seed: 17 });
    const ref = reg.ref('bench/warm:v1');
    const socket = cluster.daemons[0]!.socketPath;
    let i = 0;
    const pull = (extra: string[]): Promise<Sample> => {
      const dir = path.join(work, `run${i++}`);
      return measureAsync(
        orasflyPull(
          ref,
          { out: path.join(dir, 'out.sif'), store: path.join(dir, 'store'), log: path.join(dir, 'log') },
          extra,
        ),
      );
    };
    await pull(['--endpoint', socket]); // the daemon fetches the blob once: it is warm from here on
    const modes: Record<string, string[]> = {
      'registry, direct': [],
      'warm daemon (--endpoint)': ['--endpoint', socket],
    };
    const samples: Record<string, Sample[]> = { 'registry, direct': [], 'warm daemon (--endpoint)': [] };
    // The floor runs on the output of a direct pull (the same bytes as the daemon's file).
    const floorOn = path.join(work, 'run0', 'out.sif');
    const floor = path.join(path.dirname(fileURLToPath(import.meta.url)), 'whole-file-floor.js');
    const floorSamples: Sample[] = [];
    for (let r = 0; r < rounds; r++) {
      const names = Object.keys(modes);
      for (const name of r % 2 ? names.reverse() : names) samples[name]!.push(await pull(modes[name]!));
      // Without NODE_EXTRA_CA_CERTS, whose start-up cost the orasfly executable avoids too.
      floorSamples.push(
        await measureAsync([process.execPath, floor, floorOn, String(size), pushed.layer.digest], {
          unsetEnv: ['NODE_EXTRA_CA_CERTS'],
        }),
      );
    }
    const direct = median(samples['registry, direct']!.map((s) => s.wallMs));
    console.log('\n| how | wall | CPU (user+sys) | peak RSS | wall ÷ direct |\n| --- | ---: | ---: | ---: | ---: |');
    for (const [name, xs] of Object.entries(samples)) {
      const wall = median(xs.map((s) => s.wallMs));
      console.log(
        `| ${name} | ${(wall / 1000).toFixed(3)} s | ${(median(xs.map((s) => s.cpuMs)) / 1000).toFixed(3)} s | ` +
          `${(median(xs.map((s) => s.rssKiB)) / 1024).toFixed(0)} MiB | ${(wall / direct).toFixed(2)} |`,
      );
    }
    const least = median(floorSamples.map((s) => s.wallMs));
    console.log(
      `\nfloor: a Node process that only reads and checks the file (sha256, crc32 per piece) takes ` +
        `${(least / 1000).toFixed(3)} s, ${(least / direct).toFixed(2)} × the direct pull; a warm pull also starts ` +
        `the command, asks the registry and the daemon, and records the entry.`,
    );
  } finally {
    await cluster.stop();
    await reg.stop();
    await rm(work, { recursive: true, force: true });
  }
}
