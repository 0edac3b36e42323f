// Reuse that costs the registry (almost) nothing (#21), as whole CLI processes against a real
// registry behind a counting proxy: a digest-pinned pull needs no registry at all, concurrent reuses
// of a tag send HEADs and no manifest GET, a tag cache sends nothing, a moved tag is seen at the next
// pull, and a token registry still reuses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startRegistry, pushSif, sha256File, type RunningRegistry, type PushedArtifact } from '../../harness/index.js';
import { closeHttpServer, listenOnLoopback } from '../../harness/loopback-server.js';
import { runCli, type CliRun } from './run-cli.js';

/** How many processes reuse one tag at once (the batch job). */
const STORM = 50;

/** A reverse proxy that counts connections and requests (`METHOD path status`) on their way to `origin`. */
interface CountingProxy {
  readonly host: string;
  readonly requests: string[];
  connections: number;
  reset(): void;
  /** Requests whose line matches `re`. */
  count(re: RegExp): number;
  close(): Promise<void>;
}

async function countingProxy(origin: string): Promise<CountingProxy> {
  const target = new URL(origin);
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const up = http.request(
      { hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (ur) => {
        p.requests.push(`${req.method} ${req.url} ${ur.statusCode}`);
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connection', () => p.connections++);
  const { host } = await listenOnLoopback(server);
  const p: CountingProxy = {
    host,
    requests: [],
    connections: 0,
    reset: () => {
      p.requests.length = 0;
      p.connections = 0;
    },
    count: (re) => p.requests.filter((r) => re.test(r)).length,
    close: async () => {
      agent.destroy();
      await closeHttpServer(server);
    },
  };
  return p;
}

let root: string;
let n = 0;
before(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'orasfly-reuse-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** A fresh directory for outputs; `store` and `logs` are shared when given. */
function dirs(store?: string): { dir: string; store: string; args: string[] } {
  const dir = path.join(root, `h${n++}`);
  mkdirSync(dir, { recursive: true });
  const s = store ?? path.join(dir, 'store');
  return { dir, store: s, args: ['--datadir', s, '--logdir', path.join(dir, 'logs'), '--no-progress'] };
}

function ok(r: CliRun, what: string): void {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}`);
}

const MANIFEST_GET = /^GET \/v2\/[^ ]+\/manifests\//;
const MANIFEST_HEAD = /^HEAD \/v2\/[^ ]+\/manifests\//;

test('a digest-pinned pull succeeds by hard link with the registry stopped', async () => {
  const reg = await startRegistry({ variant: 'anonymous' });
  let stopped = false;
  try {
    const pushed = await pushSif(reg, 'lab/pinned', 'v1', { size: 300_000, seed: 2101 });
    const h = dirs();
    const first = path.join(h.dir, 'first.sif');
    ok(await runCli(h.dir, [reg.ref('lab/pinned:v1'), '-O', first, ...h.args]), 'pull by tag');
    const byDigest = reg.ref(`lab/pinned@${pushed.manifestDigest}`);
    const second = path.join(h.dir, 'second.sif');
    ok(await runCli(h.dir, [byDigest, '-O', second, ...h.args]), 'pull by digest, registry up');

    await reg.stop();
    stopped = true;
    const offline = path.join(h.dir, 'offline.sif');
    const r = await runCli(h.dir, [byDigest, '-O', offline, ...h.args]);
    ok(r, 'pull by digest, registry stopped');
    assert.equal(statSync(offline).ino, statSync(first).ino, 'a hard link to the stored blob, not a copy');
    assert.ok(statSync(offline).nlink > 1);
    assert.equal(await sha256File(offline), pushed.layer.digest);
    // The same with a fresh output directory and a digest reference never pulled before by digest:
    // the manifest is known from the tag pull, the blob is in the store.
    const h2 = dirs(h.store);
    const other = path.join(h2.dir, 'other.sif');
    ok(await runCli(h2.dir, [byDigest, '-O', other, ...h2.args]), 'another digest pull, registry stopped');
    assert.equal(statSync(other).ino, statSync(first).ino);
    // A tag needs the registry, unless the tag cache trusts its last sighting (the first pull's).
    const byTag = path.join(h2.dir, 'by-tag.sif');
    ok(
      await runCli(h2.dir, [reg.ref('lab/pinned:v1'), '-O', byTag, ...h2.args, '--tag-cache-ttl', '60s']),
      'pull by tag with a tag cache, registry stopped',
    );
    assert.equal(statSync(byTag).ino, statSync(first).ino);
  } finally {
    if (!stopped) await reg.stop();
  }
});

let reg: RunningRegistry;
let proxy: CountingProxy;
let pushed: PushedArtifact;
before(async () => {
  reg = await startRegistry({ variant: 'anonymous' });
  proxy = await countingProxy(reg.origin);
  pushed = await pushSif(reg, 'lab/storm', 'latest', { size: 256 * 1024, seed: 2103 });
});
after(async () => {
  await proxy?.close();
  await reg?.stop();
});

/** `STORM` processes pulling `ref` into `store` at once; every one must succeed. */
async function storm(store: string, ref: string, extra: string[] = []): Promise<string[]> {
  const h = dirs(store);
  const outs = Array.from({ length: STORM }, (_, i) => path.join(h.dir, `o${i}.sif`));
  const runs = await Promise.all(outs.map((o) => runCli(h.dir, [ref, '-O', o, ...h.args, ...extra])));
  runs.forEach((r, i) => ok(r, `process ${i}`));
  return outs;
}

test(`${STORM} concurrent processes reusing one cached tag send no manifest GET, one HEAD each`, async () => {
  const h = dirs();
  const ref = reg.ref('lab/storm:latest', proxy.host);
  const first = path.join(h.dir, 'first.sif');
  ok(await runCli(h.dir, [ref, '-O', first, ...h.args]), 'first pull');
  assert.equal(proxy.count(MANIFEST_GET), 1, proxy.requests.join('\n'));
  proxy.reset();

  const started = process.hrtime.bigint();
  const outs = await storm(h.store, ref);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const counts = {
    manifestGet: proxy.count(MANIFEST_GET),
    manifestHead: proxy.count(MANIFEST_HEAD),
    blob: proxy.count(/\/blobs\//),
    total: proxy.requests.length,
    connections: proxy.connections,
  };
  // What was seen, for the record (and the CI budget): not asserted on.
  console.log(`# ${STORM} reuses by tag in ${ms.toFixed(0)} ms: ${JSON.stringify(counts)}`);
  assert.equal(counts.manifestGet, 0, proxy.requests.join('\n'));
  assert.equal(counts.manifestHead, STORM);
  assert.equal(counts.blob, 0, 'no blob request: the store has it');
  assert.equal(counts.total, STORM, `only the HEADs (and no scheme probe):\n${proxy.requests.join('\n')}`);
  assert.equal(counts.connections, STORM);
  const ino = statSync(first).ino;
  for (const o of outs) assert.equal(statSync(o).ino, ino);
});

test(`with --tag-cache-ttl 1h, ${STORM} concurrent processes send at most 1 request in total`, async () => {
  const h = dirs();
  const ref = reg.ref('lab/storm:latest', proxy.host);
  const first = path.join(h.dir, 'first.sif');
  ok(await runCli(h.dir, [ref, '-O', first, ...h.args, '--tag-cache-ttl', '1h']), 'first pull');
  proxy.reset();
  // An hour, not a minute: 50 cold starts on two busy cores can take tens of seconds.
  const outs = await storm(h.store, ref, ['--tag-cache-ttl', '1h']);
  console.log(
    `# ${STORM} reuses with a 1 h tag cache: ${proxy.requests.length} request(s), ${proxy.connections} connection(s)`,
  );
  assert.ok(proxy.requests.length <= 1, proxy.requests.join('\n'));
  assert.ok(proxy.connections <= 1);
  for (const o of outs) assert.equal(await sha256File(o), pushed.layer.digest);
});

test('a moved tag (no TTL) yields the new content at the next pull', async () => {
  const h = dirs();
  const ref = reg.ref('lab/moving:v1', proxy.host);
  const old = await pushSif(reg, 'lab/moving', 'v1', { size: 100_000, seed: 2104 });
  const a = path.join(h.dir, 'a.sif');
  ok(await runCli(h.dir, [ref, '-O', a, ...h.args]), 'first pull');
  assert.equal(await sha256File(a), old.layer.digest);
  const moved = await pushSif(reg, 'lab/moving', 'v1', { size: 100_001, seed: 2105 });
  assert.notEqual(moved.manifestDigest, old.manifestDigest);
  proxy.reset();
  const b = path.join(h.dir, 'b.sif');
  ok(await runCli(h.dir, [ref, '-O', b, ...h.args]), 'pull after the move');
  assert.equal(await sha256File(b), moved.layer.digest);
  // The HEAD saw a new digest: one manifest GET, then the new blob.
  assert.equal(proxy.count(MANIFEST_HEAD), 1, proxy.requests.join('\n'));
  assert.equal(proxy.count(MANIFEST_GET), 1, proxy.requests.join('\n'));
  // And the old content is still what the first output holds.
  assert.equal(await sha256File(a), old.layer.digest);
});

test('a token registry: a reuse still needs no manifest GET and no secret is printed or written', async () => {
  const treg = await startRegistry({ variant: 'token' });
  const tproxy = await countingProxy(treg.origin);
  try {
    const tpushed = await pushSif(treg, 'lab/private', 'v1', { size: 8192, seed: 2106 });
    const { username, password } = treg.credentials!;
    const h = dirs();
    const ref = treg.ref('lab/private:v1', tproxy.host);
    const pull = (out: string): Promise<CliRun> =>
      runCli(h.dir, [ref, '-O', out, ...h.args, '--username', username, '--password-stdin'], {
        stdin: `${password}\n`,
      });
    const a = path.join(h.dir, 'a.sif');
    ok(await pull(a), 'first pull');
    tproxy.reset();
    const b = path.join(h.dir, 'b.sif');
    const r = await pull(b);
    ok(r, 'reuse');
    console.log(`# token registry reuse: ${JSON.stringify(tproxy.requests)}`);
    assert.equal(tproxy.count(MANIFEST_GET), 0, tproxy.requests.join('\n'));
    // The anonymous direct HEAD is challenged (401); undici answers the challenge and the HEAD is a 200.
    assert.ok(tproxy.requests.some((l) => /^HEAD \/v2\/lab\/private\/manifests\/v1 200$/.test(l)));
    assert.equal(tproxy.count(/\/blobs\//), 0);
    assert.equal(statSync(b).ino, statSync(a).ino);
    assert.equal(await sha256File(b), tpushed.layer.digest);
    const written = readdirSync(h.dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.endsWith('.sif') && !/^[0-9a-f]{64}$/.test(e.name))
      .map((e) => readFileSync(path.join(e.parentPath, e.name), 'latin1'))
      .join('\n');
    for (const text of [r.stdout, r.stderr, written]) {
      assert.ok(!text.includes(password), 'the password leaked');
      assert.doesNotMatch(text, /Bearer [A-Za-z0-9._-]{8,}/, 'a token leaked');
    }
  } finally {
    await tproxy.close();
    await treg.stop();
  }
});
