/**
 * End-to-end pull benchmark against the harness registry on 127.0.0.1 (issue #4's four figures):
 *  1. first pull wall time ÷ `curl -o new-file URL && openssl dgst -sha256 new-file`, measured
 *     alternately, medians; also ÷ plain `curl -o`; for concurrency 1, 2, 4, 8;
 *  2. reuse pull to a new path: in-process, and as a whole `node` process vs a bare `node -e ''`;
 *  3. peak RSS of a first pull (a child process reports its maxRSS);
 *  4. 8 concurrent pulls of one ref: blob bytes the registry served (through the counting proxy).
 *
 * Env: BENCH_SIZE_MIB (default 1024), BENCH_RUNS (default 3).
 */
import { spawnSync, spawn } from 'node:child_process';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry, pushSif, startFaultProxy } from '../test/harness/index.js';
import { createDownloader } from '../src/downloader.js';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_SIZE_MIB ?? 1024) * MiB;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const here = path.dirname(fileURLToPath(import.meta.url));
const childScript = path.join(here, 'pull-child.js');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const time = (fn: () => void) => {
  const t = performance.now();
  fn();
  return performance.now() - t;
};
const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with ${r.status}`);
}

async function main(): Promise<void> {
  console.log(`# orasfly pull benchmark — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, blob ${SIZE / MiB} MiB, ${RUNS} runs, loopback`);
  const reg = await startRegistry({ variant: 'anonymous' });
  const proxy = await startFaultProxy(reg.origin);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-bench-'));
  try {
    const t0 = performance.now();
    const pushed = await pushSif(reg, 'bench/sif', 'v1', { size: SIZE, seed: 1 });
    console.log(`pushed ${SIZE / MiB} MiB in ${fmt(performance.now() - t0)}`);
    const blobUrl = `${reg.origin}/v2/bench/sif/blobs/${pushed.layer.digest}`;
    const ref = reg.ref('bench/sif:v1');

    // 1. First pull vs curl, alternating so machine noise hits both alike.
    const curlFile = path.join(dir, 'curl.out');
    const curlVerified: number[] = [];
    const curlPlain: number[] = [];
    const ours = new Map<number, number[]>();
    const levels = [1, 2, 4, 8];
    for (let run = 0; run < RUNS; run++) {
      curlVerified.push(
        time(() => {
          sh('curl', ['-sf', '-o', curlFile, blobUrl]);
          sh('openssl', ['dgst', '-sha256', curlFile]);
        }),
      );
      await unlink(curlFile);
      curlPlain.push(time(() => sh('curl', ['-sf', '-o', curlFile, blobUrl])));
      await unlink(curlFile);
      for (const c of levels) {
        const dataPath = path.join(dir, `data-${c}-${run}`);
        const dl = await createDownloader({ storage: { dataPath, multiplex: true }, download: { concurrency: c } });
        const out = path.join(dir, `out-${c}-${run}.sif`);
        const t = performance.now();
        const r = await dl.download({ url: ref, output: out });
        const ms = performance.now() - t;
        if (r.digest !== pushed.layer.digest || r.reused) throw new Error('bench pull went wrong');
        (ours.get(c) ?? ours.set(c, []).get(c)!).push(ms);
        await dl.close();
        await rm(dataPath, { recursive: true, force: true });
        await unlink(out);
      }
    }
    const cv = median(curlVerified);
    const cp = median(curlPlain);
    console.log('\n## first pull (median wall time)');
    console.log(`| what | time | ÷ curl+openssl | ÷ curl -o |`);
    console.log(`| --- | ---: | ---: | ---: |`);
    console.log(`| curl -o new-file && openssl dgst -sha256 | ${fmt(cv)} | 1.00 | ${(cv / cp).toFixed(2)} |`);
    console.log(`| curl -o new-file (no verification) | ${fmt(cp)} | ${(cp / cv).toFixed(2)} | 1.00 |`);
    for (const c of levels) {
      const m = median(ours.get(c)!);
      console.log(`| orasfly, concurrency ${c} | ${fmt(m)} | ${(m / cv).toFixed(2)} | ${(m / cp).toFixed(2)} |`);
    }

    // 2. Reuse: in-process and as a whole process.
    const dataPath = path.join(dir, 'data-reuse');
    const dl = await createDownloader({ storage: { dataPath, multiplex: true } });
    await dl.download({ url: ref, output: path.join(dir, 'first.sif') });
    const inProc: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      const r = await dl.download({ url: ref, output: path.join(dir, `reuse-${i}.sif`) });
      inProc.push(performance.now() - t);
      if (!r.reused) throw new Error('expected reuse');
    }
    await dl.close();
    const bare: number[] = [];
    const whole: number[] = [];
    const cli: number[] = [];
    const cliBin = path.join(here, '..', '..', 'dist', 'cli', 'orasfly.mjs');
    for (let i = 0; i < Math.max(9, RUNS * 3); i++) {
      bare.push(time(() => sh(process.execPath, ['-e', ''])));
      whole.push(time(() => sh(process.execPath, [childScript, ref, dataPath, path.join(dir, `proc-${i}.sif`), 'reuse'])));
      cli.push(time(() => sh(process.execPath, [cliBin, '-u', ref, '-O', path.join(dir, `cli-${i}.sif`), '--datadir', dataPath, '--logdir', path.join(dir, 'logs'), '--config', path.join(here, '..', '..', 'test', 'fixtures', 'seed-dfget.yaml').replace(`${path.sep}.build${path.sep}`, path.sep), '--plain-http'])));
    }
    const b = median(bare);
    console.log('\n## reuse pull to a new path (manifest revalidated, then a hard link)');
    console.log(`| what | median | ratio |`);
    console.log(`| --- | ---: | ---: |`);
    console.log(`| in-process download() | ${median(inProc).toFixed(2)} ms | |`);
    console.log(`| bare node -e '' | ${b.toFixed(1)} ms | 1.00 |`);
    console.log(`| node process calling download() | ${median(whole).toFixed(1)} ms | ${(median(whole) / b).toFixed(2)} |`);
    console.log(`| orasfly CLI (seed dfget.yaml) | ${median(cli).toFixed(1)} ms | ${(median(cli) / b).toFixed(2)} |`);

    // 3. Peak RSS of a first pull, in a fresh process.
    const rssData = path.join(dir, 'data-rss');
    const child = spawn(process.execPath, [childScript, ref, rssData, path.join(dir, 'rss.sif'), 'first'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout!.on('data', (d: Buffer) => (text += d));
    await once(child, 'exit');
    const report = JSON.parse(text.trim().split('\n').pop()!) as { maxRssKiB: number; ms: number };
    console.log('\n## peak memory of a first pull');
    console.log(`peak RSS: ${(report.maxRssKiB / 1024).toFixed(1)} MiB (pull took ${fmt(report.ms)})`);

    // 4. Eight concurrent pulls of one cold ref, bytes counted at the proxy.
    const dl8 = await createDownloader({ storage: { dataPath: path.join(dir, 'data-8'), multiplex: true } });
    proxy.resetLog();
    await Promise.all(Array.from({ length: 8 }, (_, i) => dl8.download({ url: reg.ref('bench/sif:v1', proxy.host), output: path.join(dir, `c8-${i}.sif`) })));
    await dl8.close();
    console.log('\n## 8 concurrent pulls of one cold ref');
    console.log(`blob bytes served: ${proxy.blobBytesSent()} = ${(proxy.blobBytesSent() / SIZE).toFixed(2)} × the blob`);
  } finally {
    await proxy.close();
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
