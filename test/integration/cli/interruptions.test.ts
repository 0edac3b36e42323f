// Issue #20's acceptance for interruptions, end to end: a pull stopped at about 40 % — Ctrl-C
// (SIGINT), SIGTERM, `--timeout`, a library AbortSignal — keeps its verified pieces, so the next
// pull of the same reference fetches at most 65 % of the blob; the command exits with the shell's
// code for the signal (130, 143) and leaves nothing beside the output.
//
// The registry sits behind the fault proxy, which counts the blob bytes it serves and holds the
// first download still ("stall") after 42 % of the blob: the test waits for the command's
// progress line at 40 % (or the library's 40 % progress event) and interrupts there, with no
// pacing and no timers of its own. `--concurrency 1` keeps one stream, so "42 % of the blob" is
// one response's 42 %, not each split range's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  startRegistry,
  startFaultProxy,
  pushSif,
  type FaultProxy,
  type PushedArtifact,
  type RunningRegistry,
} from '../../harness/index.js';
import { sha256File } from '../conductor/helpers.js';
import { createDownloader } from '../../../src/index.js';
import { lastJson, runCli, type CliRun } from './run-cli.js';

const MiB = 1024 * 1024;
/** 10 pieces of 4 MiB: at the stall, 4 are verified and 6 (60 %) are left to fetch. */
const SIZE = 40 * MiB;
const STALL_AT = Math.floor(SIZE * 0.42);

let reg: RunningRegistry;
let proxy: FaultProxy;
let sif: PushedArtifact;
let dir: string;
before(async () => {
  reg = await startRegistry({ variant: 'anonymous' });
  proxy = await startFaultProxy(reg.origin);
  sif = await pushSif(reg, 'int/img', 'v1', { size: SIZE, seed: 20 });
  dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-interrupt-'));
});
after(async () => {
  await proxy?.close();
  await reg?.stop();
  await rm(dir, { recursive: true, force: true, maxRetries: 10 });
});

const ref = (): string => reg.ref('int/img:v1', proxy.host);
/** A pull through the proxy into `name`'s own store and output directory, logs in the test's dir. */
function pullArgs(name: string, ...flags: string[]): string[] {
  return [
    '-u',
    ref(),
    '-O',
    path.join(dir, name, 'out', 'img.sif'),
    '--datadir',
    path.join(dir, name, 'store'),
    '--logdir',
    path.join(dir, name, 'log'),
    '--concurrency',
    '1',
    ...flags,
  ];
}

/** Holds every blob response still after {@link STALL_AT} bytes, from now until {@link resumeFreely}. */
function stallBlobs(): void {
  proxy.clearRules();
  proxy.resetLog();
  proxy.addRule({ method: 'GET', blobsOnly: true, fault: { kind: 'stall', afterBytes: STALL_AT } });
}

/** Lets blobs flow again and counts from zero. */
function resumeFreely(): void {
  proxy.clearRules();
  proxy.resetLog();
}

/** The output directory holds nothing: no partial output, no hidden data file, no temp file. */
async function assertNothingBesideOutput(name: string): Promise<void> {
  const entries = await readdir(path.join(dir, name, 'out')).catch(() => [] as string[]);
  assert.deepEqual(entries, [], 'nothing of the interrupted pull is left beside the output');
}

/** Pulls again with no fault: the output is right, and at most 65 % of the blob came over the wire. */
async function assertResumes(name: string): Promise<void> {
  resumeFreely();
  const again = await runCli(dir, pullArgs(name, '--json'));
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(await sha256File(path.join(dir, name, 'out', 'img.sif')), sif.layer.digest);
  const fetched = proxy.blobBytesSent();
  assert.ok(
    fetched <= 0.65 * SIZE,
    `the next pull fetched ${fetched} bytes, ${((fetched / SIZE) * 100).toFixed(1)} % of the blob`,
  );
  assert.ok(fetched >= 0.5 * SIZE, `and did fetch what was missing (${fetched} bytes)`);
}

/** Whether the command's progress lines (one per 10 % step crossed, e.g. `progress: 41% …`) reached 40 %. */
const reached40 = (stderr: string): boolean =>
  [...stderr.matchAll(/^progress: (\d+)%/gm)].some((m) => Number(m[1]) >= 40);

/** Runs the command until its progress line at 40 % or more, then sends `sig`. */
function interruptAt40(name: string, sig: NodeJS.Signals): Promise<CliRun> {
  return runCli(dir, pullArgs(name, '--json'), {
    onStderr: (text, kill) => {
      if (reached40(text)) kill(sig);
    },
  });
}

test('Ctrl-C at 40 %: exit 130, nothing beside the output, and the next pull fetches at most 65 % of the blob', async () => {
  stallBlobs();
  const r = await interruptAt40('sigint', 'SIGINT');
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.equal(lastJson<{ error?: { code: string } }>(r).error?.code, 'ERR_ORASFLY_ABORTED');
  await assertNothingBesideOutput('sigint');
  await assertResumes('sigint');
});

test('SIGTERM at 40 % (a batch scheduler’s time limit): exit 143, nothing beside the output, the next pull fetches at most 65 %', async () => {
  stallBlobs();
  const r = await interruptAt40('sigterm', 'SIGTERM');
  assert.equal(r.code, 143, r.stdout + r.stderr);
  await assertNothingBesideOutput('sigterm');
  await assertResumes('sigterm');
});

test('--timeout expiring at 40 %: exit 1 with ERR_ORASFLY_TIMEOUT, nothing beside the output, the next pull fetches at most 65 %', async () => {
  stallBlobs();
  // The stall holds the pull at 42 % from well under a second in until the timeout.
  const r = await runCli(dir, pullArgs('timeout', '--json', '--timeout', '6s'));
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.ok(reached40(r.stderr), `the timeout came after 40 %: ${r.stderr}`);
  const j = lastJson<{ error?: { code: string; message: string } }>(r);
  assert.equal(j.error?.code, 'ERR_ORASFLY_TIMEOUT');
  assert.match(j.error!.message, /its verified pieces stay in the store, and the next pull resumes from them/);
  await assertNothingBesideOutput('timeout');
  await assertResumes('timeout');
});

test('an AbortSignal at 40 % (library): the promise rejects, nothing beside the output, the next download fetches at most 65 %', async () => {
  stallBlobs();
  const dataPath = path.join(dir, 'abort', 'store');
  const output = path.join(dir, 'abort', 'out', 'img.sif');
  const options = { storage: { dataPath }, oras: { homeDir: dir }, download: { concurrency: 1 }, gcAfterPull: false };
  const dl = await createDownloader(options);
  try {
    const ac = new AbortController();
    await assert.rejects(
      dl.download({
        url: ref(),
        output,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.percent >= 40) ac.abort();
        },
      }),
      { name: 'AbortError' },
    );
  } finally {
    await dl.close();
  }
  await assertNothingBesideOutput('abort');
  resumeFreely();
  const dl2 = await createDownloader(options);
  try {
    const r = await dl2.download({ url: ref(), output });
    assert.equal(r.reused, false);
  } finally {
    await dl2.close();
  }
  assert.equal(await sha256File(output), sif.layer.digest);
  const fetched = proxy.blobBytesSent();
  assert.ok(fetched <= 0.65 * SIZE, `the next download fetched ${((fetched / SIZE) * 100).toFixed(1)} % of the blob`);
});
