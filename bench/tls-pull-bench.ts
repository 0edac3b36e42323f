/**
 * The headline comparison of issue #23: first and second pull of one SIF over TLS, against the
 * client whose "oras resource client mode" orasfly re-implements (Dragonfly's Go dfget v2.3.4, run by
 * `../shared/dragonfly/go-dfget.sh` as the Dragonfly oras-mode page runs it) and against plain peers.
 * The registry is the harness's TLS `docker-registry` on loopback (the Go oras client speaks only
 * https). Every figure is a median over alternating rounds (the order rotates each round), with wall
 * time, CPU (user + sys) and peak RSS from /usr/bin/time:
 *
 *  - orasfly CLI (`--ca-file`): first pull with a fresh store, then second pulls from the same store
 *    (output removed before each);
 *  - `curl --cacert` && `openssl dgst -sha256`, the naive Node https script (`bench/naive-pull.ts`);
 *  - when `dragonfly-bin.tar.xz` is there: Go dfget (`go-dfget.sh --fresh --runs N`: a fresh daemon
 *    store, its first pull, then the second pulls), `oras pull` and `crane blob` from the same tarball.
 *
 * A second pull takes ~0.1 s and its wall time swings by tens of ms on a shared machine, so each round
 * makes `BENCH_TLS_SECONDS` of them (default 3) for orasfly and for Go dfget alike: the second-pull
 * medians are over rounds × that many samples.
 *
 * Go dfget's pulls are done by its daemon: its CPU is the daemon's (`/proc/PID/stat` before and after
 * each pull) plus the `dfget-go` client process's (/usr/bin/time, through a wrapper named as the binary
 * in a directory handed to the script as `DF_BIN`); its peak RSS is shown for both processes.
 * Tools without a store have no second pull (it would be another first pull).
 *
 * Env: BENCH_TLS_MIB (default 512), BENCH_ROUNDS (default 5), BENCH_TLS_SECONDS (default 3), DRAGONFLY_DIR (default
 * `../shared/dragonfly` beside the repository), DF_HOME / DF_BIN (as for the Dragonfly scripts; by
 * default a temp dir, the binaries unpacked there once per run).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, pushSif, repoRoot, startRegistry } from '../test/harness/index.js';
import { measureAsync, median, medians, orasflyPull, rotated, type Sample } from './measure.js';

const MiB = 1024 * 1024;
const SIZE_MIB = Number(process.env.BENCH_TLS_MIB ?? 512);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** Second pulls per round, per tool that keeps a store. */
const SECONDS = Math.max(1, Number(process.env.BENCH_TLS_SECONDS ?? 3));
const DRAGONFLY_DIR = path.resolve(repoRoot, process.env.DRAGONFLY_DIR ?? path.join('..', 'shared', 'dragonfly'));
const TARBALL = path.join(DRAGONFLY_DIR, 'dragonfly-bin.tar.xz');
const GO_DFGET = path.join(DRAGONFLY_DIR, 'go-dfget.sh');
const here = path.dirname(fileURLToPath(import.meta.url));
const naive = path.join(here, 'naive-pull.js');
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** One round of a tool: its first pull, and its second pulls when it keeps a store. */
interface Round {
  first: Sample;
  seconds?: Sample[];
  /** orasfly, when `NODE_EXTRA_CA_CERTS` is set here: the second pull without it, and bare Node with and without. */
  withoutExtraCa?: { second: Sample; bareWith: Sample; bareWithout: Sample };
  /** Go dfget: the client process's peak RSS (the sample's `rssKiB` is the daemon's). */
  clientRssKiB?: number;
}

interface Tool {
  name: string;
  /** Whether the tool keeps a store, so that a second pull means something. */
  second: boolean;
  run(): Promise<Round>;
}

/** A process's CPU so far (user + sys, ms), or undefined when it is gone. */
function procCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** A process's peak RSS so far (KiB), or undefined when it is gone. */
function procHwmKiB(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const firstLine = (e: unknown) =>
  (e instanceof Error ? e.message : String(e))
    .split('\n')
    .find((l) => l.trim())
    ?.slice(0, 200) ?? 'failed';

/**
 * Go dfget through `go-dfget.sh`. The script starts its daemon, a Harbor-token shim and a fake
 * scheduler, pulls 1 + SECONDS times and stops them; what it reports is read from its output and result.env.
 */
class GoDfget {
  private readonly wrapBin: string;
  private readonly times: string;
  constructor(
    private readonly dfHome: string,
    private readonly realBin: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly registry: string,
    private readonly ref: string,
  ) {
    this.wrapBin = path.join(dfHome, 'wrap-bin');
    this.times = path.join(this.wrapBin, 'client-times');
  }

  /**
   * A `dfget-go` that runs the real one, under /usr/bin/time when it is the client (`-u …`); with the
   * tarball's stamp beside it, so the script does not unpack over it.
   */
  async setUp(): Promise<void> {
    await mkdir(this.wrapBin, { recursive: true });
    await copyFile(path.join(this.realBin, '.tarball'), path.join(this.wrapBin, '.tarball'));
    const real = path.join(this.realBin, 'dfget-go');
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const wrapper = path.join(this.wrapBin, 'dfget-go');
    await writeFile(
      wrapper,
      `#!/bin/sh\nif [ "$1" = -u ]; then exec /usr/bin/time -a -o ${q(this.times)} -f 'DFGET %e %U %S %M' ${q(real)} "$@"; fi\n` +
        `exec ${q(real)} "$@"\n`,
    );
    await chmod(wrapper, 0o755);
  }

  async run(): Promise<Round> {
    await rm(this.times, { force: true });
    const p = spawn('bash', [GO_DFGET, '--fresh', '--runs', String(1 + SECONDS), this.registry, this.ref], {
      env: { ...this.env, DF_BIN: this.wrapBin },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 600_000,
    });
    let pid: number | undefined;
    const cpu: (number | undefined)[] = [];
    const hwm: (number | undefined)[] = [];
    let tail = '';
    const keep = (l: string) => (tail = (tail + l + '\n').slice(-4000));
    createInterface({ input: p.stderr }).on('line', (l) => {
      keep(l);
      const m = /dfget daemon up \(pid (\d+)/.exec(l);
      if (m) {
        pid = Number(m[1]);
        cpu[0] = procCpuMs(pid);
      }
    });
    createInterface({ input: p.stdout }).on('line', (l) => {
      keep(l);
      const m = /^run (\d+): exit/.exec(l);
      if (m && pid !== undefined) {
        cpu[Number(m[1])] = procCpuMs(pid);
        hwm[Number(m[1])] = procHwmKiB(pid);
      }
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      p.on('error', reject);
      p.on('close', resolve);
    });
    if (code !== 0) {
      const said = tail.split('\n').filter((l) => l.trim() && !/^go-dfget: stopped /.test(l));
      throw new Error(`go-dfget.sh exited ${code}: ${said.at(-1) ?? 'no output'}`);
    }
    const env = new Map(
      (await readFile(path.join(this.dfHome, 'go-dfget', 'result.env'), 'utf8'))
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
    );
    // The client runs' /usr/bin/time lines, in order: run 1, run 2, …
    const clients = [
      ...(await readFile(this.times, 'utf8').catch(() => '')).matchAll(/^DFGET [\d.]+ ([\d.]+) ([\d.]+) (\d+)$/gm),
    ].map((m) => ({ cpuMs: (Number(m[1]) + Number(m[2])) * 1000, rssKiB: Number(m[3]) }));
    const sample = (k: number): Sample => {
      if (env.get(`GODFGET_RC_${k}`) !== '0' || env.get(`GODFGET_SHA256_OK_${k}`) !== '1')
        throw new Error(
          `Go dfget pull ${k}: exit ${env.get(`GODFGET_RC_${k}`)}, sha256 ok ${env.get(`GODFGET_SHA256_OK_${k}`)}`,
        );
      const before = cpu[k - 1];
      const after = cpu[k];
      const client = clients[k - 1];
      return {
        wallMs: Number(env.get(`GODFGET_WALL_MS_${k}`)),
        // NaN where a figure could not be read: printed as "(daemon)".
        cpuMs: before !== undefined && after !== undefined && client ? after - before + client.cpuMs : NaN,
        rssKiB: hwm[k] ?? NaN,
      };
    };
    const seconds = Array.from({ length: SECONDS }, (_, i) => sample(i + 2));
    return { first: sample(1), seconds, clientRssKiB: clients[0]?.rssKiB ?? NaN };
  }
}

const secs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(3)} s`);
const finiteMedian = (xs: number[]) => (xs.length && xs.every(Number.isFinite) ? median(xs) : NaN);

async function main(): Promise<void> {
  const reg = await startRegistry({ variant: 'tls' });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-tls-bench-'));
  const ownDfHome = process.env.DF_HOME === undefined;
  // Short: the Go daemon's unix socket lives under it (100 bytes at most).
  const dfHome = process.env.DF_HOME ?? (await mkdtemp(path.join(os.tmpdir(), 'ofdf-')));
  try {
    const ca = reg.caFile!;
    const repo = `bench/tls${SIZE_MIB}`;
    const pushed = await pushSif(reg, repo, 'v1', { size: SIZE_MIB * MiB, seed: SIZE_MIB });
    const digest = pushed.layer.digest;
    const ref = reg.ref(`${repo}:v1`);
    const blob = `${reg.origin}/v2/${repo}/blobs/${digest}`;
    const out = (name: string) => path.join(dir, `${name}.out`);
    const store = path.join(dir, 'store');

    const orasfly = (unsetEnv: string[] = []) =>
      measureAsync(orasflyPull(ref, { out: out('orasfly'), store, log: path.join(dir, 'log') }, ['--ca-file', ca]), {
        unsetEnv,
      });
    // Node 20 reads NODE_EXTRA_CA_CERTS at start-up, before any code runs, and builds its whole root
    // store then: a cost every Node process on such a machine pays, measured apart. The orasfly
    // executable keeps the variable from Node's start-up (src/cli/deferred-extra-ca.ts).
    const extraCa = process.env.NODE_EXTRA_CA_CERTS ? ['NODE_EXTRA_CA_CERTS'] : undefined;
    const tools: Tool[] = [
      {
        name: '**orasfly** (`--ca-file`)',
        second: true,
        run: async () => {
          await rm(store, { recursive: true, force: true });
          const first = await orasfly();
          const seconds: Sample[] = [];
          for (let k = 0; k < SECONDS; k++) {
            await rm(out('orasfly'), { force: true });
            seconds.push(await orasfly());
          }
          if (!extraCa) return { first, seconds };
          await rm(out('orasfly'), { force: true });
          const bare = [process.execPath, '-e', ''];
          const withoutExtraCa = {
            second: await orasfly(extraCa),
            bareWith: await measureAsync(bare),
            bareWithout: await measureAsync(bare, { unsetEnv: extraCa }),
          };
          return { first, seconds, withoutExtraCa };
        },
      },
      {
        name: 'curl `--cacert` + `openssl dgst -sha256`',
        second: false,
        run: async () => ({
          first: await measureAsync(
            `curl -sS --fail --cacert '${ca}' -o '${out('curl')}' '${blob}' && ` +
              `openssl dgst -sha256 -r '${out('curl')}' | grep -q '^${digest.slice('sha256:'.length)} '`,
          ),
        }),
      },
      {
        name: 'naive Node (`https.get` → `createWriteStream`, sha256 per chunk)',
        second: false,
        run: async () => ({ first: await measureAsync([process.execPath, naive, blob, out('naive'), digest, ca]) }),
      },
    ];

    // The tarball's tools. Any invocation of a Dragonfly script unpacks the binaries first (once per
    // tarball); `go-dfget.sh --stop` with nothing running does only that.
    let absent: string | undefined;
    const dfEnv: NodeJS.ProcessEnv = {
      ...process.env,
      DF_HOME: dfHome,
      REGISTRY_CA: ca,
      GODFGET_SHIM_PORT: process.env.GODFGET_SHIM_PORT ?? String(await freePort()),
      GODFGET_SCHED_PORT: process.env.GODFGET_SCHED_PORT ?? String(await freePort()),
    };
    const dfBin = process.env.DF_BIN ?? path.join(dfHome, 'bin');
    if (!existsSync(TARBALL)) absent = `${path.relative(repoRoot, TARBALL)} not found (set DRAGONFLY_DIR)`;
    else {
      const r = spawnSync('bash', [GO_DFGET, '--stop'], { env: dfEnv, encoding: 'utf8' });
      const missing = ['dfget-go', 'oras', 'crane'].filter((b) => !existsSync(path.join(dfBin, b)));
      if (r.status !== 0 || missing.length)
        absent = `could not unpack ${path.relative(repoRoot, TARBALL)}: ${firstLine(r.stderr || `no ${missing.join(', ')}`)}`;
    }
    if (!absent) {
      const go = new GoDfget(dfHome, dfBin, dfEnv, reg.host, `${repo}:v1`);
      await go.setUp();
      tools.push(
        {
          name: "Dragonfly's Go dfget v2.3.4 (`go-dfget.sh`: managed daemon, the oras-mode page's storage block)",
          second: true,
          run: () => go.run(),
        },
        {
          name: '`oras pull` 1.3.6 (`--ca-file`)',
          second: false,
          run: async () => {
            await rm(out('oras'), { recursive: true, force: true });
            return {
              first: await measureAsync([
                path.join(dfBin, 'oras'),
                'pull',
                '--ca-file',
                ca,
                '-o',
                out('oras'),
                `${reg.host}/${repo}:v1`,
              ]),
            };
          },
        },
        {
          name: '`crane blob` 0.22.1 (`SSL_CERT_FILE`)',
          second: false,
          run: async () => ({
            first: await measureAsync(
              `SSL_CERT_FILE='${ca}' '${path.join(dfBin, 'crane')}' blob '${reg.host}/${repo}@${digest}' > '${out('crane')}'`,
            ),
          }),
        },
      );
    }

    const results = new Map<string, Round[]>(tools.map((t) => [t.name, []]));
    const errors = new Map<string, string[]>(tools.map((t) => [t.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const tool of rotated(tools, round)) {
        try {
          results.get(tool.name)!.push(await tool.run());
        } catch (e) {
          errors.get(tool.name)!.push(firstLine(e));
        }
        for (const name of ['orasfly', 'curl', 'naive', 'oras', 'crane'])
          await rm(out(name), { recursive: true, force: true });
      }
    }

    console.log(
      `# first and second pull over TLS — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    );
    console.log(
      `\nOne ${SIZE_MIB} MiB SIF on a TLS \`docker-registry\` on loopback, a fresh store for each first pull, ` +
        `${SECONDS} second pulls per round from the same store (output removed before each), ${ROUNDS} alternating ` +
        `rounds, medians (of ${ROUNDS * SECONDS} samples for a second pull); ` +
        'each client a whole process.\n',
    );
    const first = (t: Tool) => medians(results.get(t.name)!.map((r) => r.first));
    const firstCpu = (t: Tool) => finiteMedian(results.get(t.name)!.map((r) => r.first.cpuMs));
    const second = (t: Tool) => results.get(t.name)!.flatMap((r) => r.seconds!);
    const ok = (t: Tool) => results.get(t.name)!.length > 0;
    const byPrefix = (p: string) => tools.find((t) => t.name.startsWith(p) && ok(t));
    const goT = byPrefix("Dragonfly's Go dfget");
    const curlT = byPrefix('curl');
    const goFirst = goT ? first(goT).wall : NaN;
    const goSecond = goT ? median(second(goT).map((s) => s.wallMs)) : NaN;
    const curlCpu = curlT ? first(curlT).cpu : NaN;
    const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) ? (a / b).toFixed(2) : '');
    console.log(
      '| | first pull wall | CPU (user+sys) | peak RSS | second pull wall | second pull CPU | ' +
        "first wall ÷ Go dfget's | CPU ÷ curl+openssl's | second wall ÷ Go dfget's |",
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const t of tools) {
      const rounds = results.get(t.name)!;
      if (!rounds.length) {
        const why = errors.get(t.name)![0]!.split(' failed: ').at(-1)!.replace(/\|/g, '/');
        console.log(`| ${t.name} | failed in every round: ${why} | | | | | | | |`);
        continue;
      }
      const f = first(t);
      const isGo = t === goT;
      const cpu = firstCpu(t);
      const cpuText = Number.isFinite(cpu) ? `${secs(cpu)}${isGo ? ' (daemon + client)' : ''}` : '(daemon)';
      const rssText = isGo
        ? Number.isFinite(f.rss)
          ? `${f.rss.toFixed(0)} MiB (daemon) + ${(finiteMedian(rounds.map((r) => r.clientRssKiB!)) / 1024).toFixed(0)} MiB (client)`
          : '(daemon)'
        : `${f.rss.toFixed(0)} MiB`;
      let secondCols = '— | —';
      let secondRatio = '';
      if (t.second) {
        const s = second(t);
        const sw = median(s.map((x) => x.wallMs));
        const sc = finiteMedian(s.map((x) => x.cpuMs));
        secondCols = `${secs(sw)} | ${Number.isFinite(sc) ? secs(sc) : '(daemon)'}`;
        secondRatio = ratio(sw, goSecond);
      }
      console.log(
        `| ${t.name} | ${secs(f.wall)} | ${cpuText} | ${rssText} | ${secondCols} | ` +
          `${ratio(f.wall, goFirst)} | ${ratio(cpu, curlCpu)} | ${secondRatio} |`,
      );
    }
    if (absent) console.log(`\nDragonfly's Go dfget, oras and crane: not run — ${absent}.`);
    console.log(
      '\n— : no store, so a second pull is another first pull.' +
        (goT
          ? " Go dfget's pulls are done by its daemon: CPU is the daemon's (/proc/PID/stat before and after each pull) " +
            "plus the `dfget-go` client process's; its first pull's wall excludes the daemon's start."
          : ''),
    );
    const orasflyT = byPrefix('**orasfly**');
    if (orasflyT) {
      const o = first(orasflyT);
      const os2 = median(second(orasflyT).map((s) => s.wallMs));
      console.log(
        `\norasfly against issue #23's targets: first pull wall ÷ Go dfget's ${ratio(o.wall, goFirst) || 'n/a'} (≤ 0.9), ` +
          `CPU ÷ curl+openssl's ${ratio(o.cpu, curlCpu) || 'n/a'} (≤ 1.4), peak RSS ${o.rss.toFixed(0)} MiB (≤ 100), ` +
          `second pull wall ÷ Go dfget's ${ratio(os2, goSecond) || 'n/a'} (≤ 2.0).`,
      );
      const apart = results.get(orasflyT.name)!.flatMap((r) => (r.withoutExtraCa ? [r.withoutExtraCa] : []));
      if (apart.length > 0) {
        const wall = (xs: Sample[]) => median(xs.map((x) => x.wallMs));
        const bareWith = wall(apart.map((a) => a.bareWith));
        const bareWithout = wall(apart.map((a) => a.bareWithout));
        const s2 = wall(apart.map((a) => a.second));
        console.log(
          `
NODE_EXTRA_CA_CERTS is set on this machine: Node 20 then builds its whole root store at start-up, ` +
            `before any code runs. A bare \`node -e ''\` takes ${secs(bareWith)} with it and ` +
            `${secs(bareWithout)} without. The orasfly executable keeps the variable from Node's start-up and ` +
            `reads its file only if a connection needs it; its second pull with the variable unset takes ` +
            `${secs(s2)}, ${ratio(s2, goSecond) || 'n/a'} × Go dfget's (same rounds). Go does not read the variable.`,
        );
      }
    }
    for (const t of tools) {
      const errs = errors.get(t.name)!;
      if (errs.length) console.log(`\n${t.name}: failed ${errs.length} of ${ROUNDS} rounds; first: ${errs[0]}`);
    }
  } finally {
    await reg.stop();
    await rm(dir, { recursive: true, force: true, maxRetries: 10 });
    if (ownDfHome) await rm(dfHome, { recursive: true, force: true, maxRetries: 10 });
  }
}

await main();
