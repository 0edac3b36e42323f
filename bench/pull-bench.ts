/**
 * First pull and reuse against peers, side by side in one run (issue #10), on the harness registry
 * (127.0.0.1). Every figure is a median over alternating rounds (the tools' order rotates each round,
 * so machine noise hits all alike), with wall time, CPU (user + sys) and peak RSS from /usr/bin/time:
 *
 *  1. first pull of a 512 MiB and a 2 GiB SIF: `curl -o`, `curl -o && openssl dgst -sha256`, the naive
 *     Node script (`bench/naive-pull.ts`), `skopeo copy` (Debian's skopeo, which verifies digests),
 *     and the `orasfly` CLI with its found count (the default) and `--concurrency` 1 and 4;
 *  2. behind a proxy that caps each connection (16 and 40 MiB/s, 96 MiB): the found count against
 *     1, 4 and 8 fixed connections, and where the found count ended;
 *  3. a reuse pull as a whole CLI process ÷ a bare `node -e ''`.
 *
 * Env: BENCH_SIZES_MIB (default "512,2048"; "0" skips the first-pull tables), BENCH_ROUNDS (default 5),
 * BENCH_THROTTLE_MIBPS ("16,40"; "" skips the capped tables), BENCH_THROTTLE_MIB (96), BENCH_REUSE_PAIRS (11).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry, pushSif } from '../test/harness/index.js';
import { startThrottleProxy } from './throttle-proxy.js';
import { measure, measureAsync, median, medians, orasflyPull, rotated, type Sample } from './measure.js';

const MiB = 1024 * 1024;
const SIZES = (process.env.BENCH_SIZES_MIB ?? '512,2048').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const THROTTLES = (process.env.BENCH_THROTTLE_MIBPS ?? '16,40')
  .split(',')
  .filter(Boolean)
  .map((x) => Number(x) * MiB);
const THROTTLE_SIZE = Number(process.env.BENCH_THROTTLE_MIB ?? 96) * MiB;
const REUSE_PAIRS = Number(process.env.BENCH_REUSE_PAIRS ?? 11);
const here = path.dirname(fileURLToPath(import.meta.url));
const naive = path.join(here, 'naive-pull.js');

function hasSkopeo(): boolean {
  if (spawnSync('skopeo', ['--version']).status === 0) return true;
  // Like the registry for the tests: installed from Debian when we may.
  if (
    process.getuid?.() === 0 &&
    spawnSync('apt-get', ['install', '-y', '-qq', 'skopeo'], { stdio: 'ignore' }).status === 0
  )
    return true;
  return false;
}

async function main(): Promise<void> {
  console.log(
    `# first pull vs peers — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ` +
      `${ROUNDS} alternating rounds, loopback registry`,
  );
  const reg = await startRegistry({ variant: 'anonymous' });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-pull-bench-'));
  const skopeo = hasSkopeo();
  try {
    for (const mib of SIZES.filter((x) => x > 0)) {
      const pushed = await pushSif(reg, `bench/sif${mib}`, 'v1', { size: mib * MiB, seed: mib });
      const ref = reg.ref(`bench/sif${mib}:v1`);
      const blob = `${reg.origin}/v2/bench/sif${mib}/blobs/${pushed.layer.digest}`;
      const out = (name: string) => path.join(dir, `${name}.out`);
      const store = path.join(dir, 'store');
      const orasfly = (c: number | undefined) => () => {
        spawnSync('rm', ['-rf', store]);
        return measure(
          orasflyPull(
            ref,
            { out: out('orasfly'), store, log: path.join(dir, 'log') },
            c ? ['--concurrency', String(c)] : [],
          ),
        );
      };
      const tools: [string, () => Sample][] = [
        ['curl -o', () => measure(['curl', '-s', '-o', out('curl'), blob])],
        [
          'curl -o && openssl dgst -sha256',
          () => measure(`curl -s -o ${out('curlv')} ${blob} && openssl dgst -sha256 ${out('curlv')} >/dev/null`),
        ],
        [
          'naive Node (http.get → createWriteStream, sha256 per chunk)',
          () => measure([process.execPath, naive, blob, out('naive'), pushed.layer.digest]),
        ],
        ...(skopeo
          ? [
              [
                'skopeo copy (verifies)',
                () => (
                  spawnSync('rm', ['-rf', out('skopeo')]),
                  measure([
                    'skopeo',
                    'copy',
                    '-q',
                    '--src-tls-verify=false',
                    `docker://${ref.slice('oras://'.length)}`,
                    `dir:${out('skopeo')}`,
                  ])
                ),
              ] as [string, () => Sample],
            ]
          : []),
        ['orasfly (default: the count finds itself)', orasfly(undefined)],
        ['orasfly --concurrency 1', orasfly(1)],
        ['orasfly --concurrency 4', orasfly(4)],
      ];
      const samples = new Map<string, Sample[]>(tools.map(([n]) => [n, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, run] of rotated(tools, round)) {
          samples.get(name)!.push(run());
          spawnSync('rm', ['-rf', out('curl'), out('curlv'), out('naive'), out('skopeo'), out('orasfly')]);
        }
      }
      const med = (name: string) => medians(samples.get(name)!);
      const naiveM = med('naive Node (http.get → createWriteStream, sha256 per chunk)');
      const verified = med('curl -o && openssl dgst -sha256');
      console.log(`\n## first pull, ${mib} MiB (medians of ${ROUNDS})`);
      console.log('| what | wall | CPU (user+sys) | peak RSS | wall ÷ naive | wall ÷ curl+openssl | CPU ÷ naive |');
      console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
      for (const [name] of tools) {
        const m = med(name);
        console.log(
          `| ${name} | ${(m.wall / 1000).toFixed(2)} s | ${(m.cpu / 1000).toFixed(2)} s | ` +
            `${m.rss.toFixed(0)} MiB | ${(m.wall / naiveM.wall).toFixed(2)} | ${(m.wall / verified.wall).toFixed(2)} | ${(m.cpu / naiveM.cpu).toFixed(2)} |`,
        );
      }
      const def = med('orasfly (default: the count finds itself)');
      const c1 = med('orasfly --concurrency 1');
      const c4 = med('orasfly --concurrency 4');
      console.log(
        `\ndefault: CPU ÷ one whole-blob stream (--concurrency 1) ${(def.cpu / c1.cpu).toFixed(2)}; ` +
          `--concurrency 4: CPU ÷ default ${(c4.cpu / def.cpu).toFixed(2)}, peak RSS ${c4.rss.toFixed(0)} MiB`,
      );
      if (!skopeo) console.log("(skopeo not available: install Debian's skopeo to add it)");
    }

    // 2. Per-connection caps: the found count against fixed ones.
    const tp = await pushSif(reg, 'bench/throttled', 'v1', { size: THROTTLE_SIZE, seed: 77 });
    for (const rate of THROTTLES) {
      const proxy = await startThrottleProxy(reg.origin, rate);
      try {
        const tref = reg.ref('bench/throttled:v1', proxy.host);
        const levels: (number | undefined)[] = [undefined, 1, 4, 8];
        const label = (c: number | undefined) => (c === undefined ? 'found (default)' : String(c));
        const wall = new Map<string, number[]>(levels.map((c) => [label(c), []]));
        const chosen: string[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          for (let k = 0; k < levels.length; k++) {
            const c = levels[(k + round) % levels.length];
            const store = path.join(dir, 'tstore');
            spawnSync('rm', ['-rf', store]);
            const logDir = path.join(dir, `tlog-${label(c)}-${rate}-${round}`);
            const sample = await measureAsync(
              orasflyPull(
                tref,
                { out: path.join(dir, 't.out'), store, log: logDir },
                c === undefined ? [] : ['--concurrency', String(c)],
              ),
            );
            wall.get(label(c))!.push(sample.wallMs);
            if (c === undefined) {
              const log = await readFile(path.join(logDir, 'dfget', 'core.log'), 'utf8');
              const last = [...log.matchAll(/connections: (\d+)/g)].at(-1);
              if (last) chosen.push(last[1]!);
            }
            spawnSync('rm', ['-f', path.join(dir, 't.out')]);
          }
        }
        const one = median(wall.get('1')!);
        console.log(
          `\n## behind a proxy capping each connection at ${rate / MiB} MiB/s (${THROTTLE_SIZE / MiB} MiB, medians of ${ROUNDS})`,
        );
        console.log('| connections | wall | throughput | ÷ 1 connection |');
        console.log('| ---: | ---: | ---: | ---: |');
        for (const c of levels) {
          const w = median(wall.get(label(c))!);
          console.log(
            `| ${label(c)} | ${(w / 1000).toFixed(2)} s | ${(tp.layer.size / MiB / (w / 1000)).toFixed(0)} MiB/s | ${(one / w).toFixed(2)} |`,
          );
        }
        console.log(`the found count ended at: ${chosen.join(', ')} (core.log, each round)`);
      } finally {
        await proxy.close();
      }
    }

    // 3. Reuse as a whole process.
    const small = await pushSif(reg, 'bench/reuse', 'v1', { size: 16 * MiB, seed: 5 });
    void small;
    const rstore = path.join(dir, 'rstore');
    const rref = reg.ref('bench/reuse:v1');
    measure(orasflyPull(rref, { out: path.join(dir, 'r0.sif'), store: rstore, log: path.join(dir, 'log') }));
    const bare: number[] = [];
    const reuse: Sample[] = [];
    for (let i = 0; i < REUSE_PAIRS; i++) {
      const a = () => bare.push(measure([process.execPath, '-e', '']).wallMs);
      const b = () =>
        reuse.push(
          measure(
            orasflyPull(rref, { out: path.join(dir, `r${i + 1}.sif`), store: rstore, log: path.join(dir, 'log') }),
          ),
        );
      if (i % 2) {
        a();
        b();
      } else {
        b();
        a();
      }
    }
    const rb = median(bare);
    const rr = median(reuse.map((x) => x.wallMs));
    console.log(
      `\n## reuse pull as a whole CLI process (manifest revalidated, then a hard link; ${REUSE_PAIRS} alternating pairs)`,
    );
    console.log('| what | wall | CPU | peak RSS | ÷ bare node |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    console.log(`| bare node -e '' | ${rb.toFixed(0)} ms | | | 1.00 |`);
    console.log(
      `| orasfly reuse | ${rr.toFixed(0)} ms | ${median(reuse.map((x) => x.cpuMs)).toFixed(0)} ` +
        `ms | ${(median(reuse.map((x) => x.rssKiB)) / 1024).toFixed(0)} MiB | ${(rr / rb).toFixed(2)} |`,
    );
  } finally {
    await reg.stop();
    await rm(dir, { recursive: true, force: true, maxRetries: 10 });
  }
}

await main();
