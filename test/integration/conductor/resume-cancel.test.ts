import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { readdir, access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { builtFixturePath, pushSif } from '../../harness/index.js';
import { useRegistryBehindProxy, makeRig, sha256File } from './helpers.js';
import type { PeerTaskConductor } from '../../../src/conductor/peer-task-conductor.js';

const MiB = 1024 * 1024;
const child = builtFixturePath('pull-child.js');

const env = useRegistryBehindProxy();

function nextConductor(rig: Awaited<ReturnType<typeof makeRig>>): Promise<PeerTaskConductor> {
  return new Promise((resolve) => rig.manager.onConductor(resolve));
}

/** Starts a pull, cancels it once its first piece is stored, and waits until its task has failed. */
async function cancelAfterFirstPiece(rig: Awaited<ReturnType<typeof makeRig>>, url: string, output: string) {
  const conductorP = nextConductor(rig);
  const ac = new AbortController();
  const p = rig.manager.download({ url, output, signal: ac.signal });
  const conductor = await conductorP;
  await once(conductor, 'piece');
  const failed = once(conductor, 'failed');
  ac.abort();
  await assert.rejects(p, { name: 'AbortError' });
  await failed;
}

test('kill -9 during a pull, then pull again: only the missing pieces are fetched and the output is correct', async () => {
  const rig = await makeRig(env.reg);
  try {
    const a = await pushSif(env.reg, 'resume/img', 'v1', { size: 40 * MiB, seed: 21 });
    const url = env.reg.ref('resume/img:v1', env.proxy.host);
    const out = path.join(rig.outDir, 'resume.sif');
    // The child shares the data path; the parent's store is opened afterwards, as after a restart.
    await rig.storage.close();
    const proc = spawn(process.execPath, [child, url, rig.dataPath, out, String(8 * MiB)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: proc.stdout! });
    let pieces = 0;
    for await (const line of lines) {
      if (JSON.parse(line).piece !== undefined && ++pieces === 5) break;
    }
    proc.kill('SIGKILL');
    await once(proc, 'exit');
    // What the killed process had persisted: the pieces a restart can keep.
    const taskDirs = (await readdir(rig.dataPath)).filter((f) => !f.startsWith('.'));
    assert.equal(taskDirs.length, 1);
    const peers = await readdir(path.join(rig.dataPath, taskDirs[0]!));
    const meta = JSON.parse(
      await readFile(
        path.join(
          rig.dataPath,
          taskDirs[0]!,
          peers.find((p) => !p.startsWith('.'))!,
          'metadata',
        ),
        'utf8',
      ),
    ) as {
      done: boolean;
      pieces: Record<string, { range: { Length: number } }>;
    };
    assert.equal(meta.done, false);
    const kept = Object.values(meta.pieces).reduce((n, p) => n + p.range.Length, 0);
    assert.ok(kept >= 4 * MiB, `at least one piece was persisted before the kill (${kept} bytes)`);
    env.proxy.resetLog();
    // One connection: a split the tuner may probe on a loaded machine would count in-flight bytes twice.
    const rig2 = await makeRig(env.reg, { storage: { dataPath: rig.dataPath }, conductor: { concurrency: 1 } });
    try {
      const r = await rig2.manager.download({ url, output: out });
      assert.equal(r.reused, false);
      assert.equal(await sha256File(out), a.layer.digest);
      const probe = env.proxy
        .blobRequests()
        .filter((q) => q.range === 'bytes=0-0')
        .reduce((n, q) => n + q.bytesSent, 0);
      assert.equal(env.proxy.blobBytesSent() - probe, a.layer.size - kept, 'only the missing pieces were fetched');
    } finally {
      await rig2.close();
    }
  } finally {
    await rig.close();
  }
});

test('cancelling one of two attached requests leaves the other to finish', async () => {
  const rig = await makeRig(env.reg, { rateLimit: 8 * MiB });
  try {
    const a = await pushSif(env.reg, 'cancel/two', 'v1', { size: 16 * MiB, seed: 22 });
    const url = env.reg.ref('cancel/two:v1', env.proxy.host);
    let conductors = 0;
    const conductorP = new Promise<PeerTaskConductor>((resolve) =>
      rig.manager.onConductor((c) => {
        conductors++;
        resolve(c);
      }),
    );
    const ac = new AbortController();
    const p1 = rig.manager.download({ url, output: path.join(rig.outDir, 'one'), signal: ac.signal });
    const p2 = rig.manager.download({ url, output: path.join(rig.outDir, 'two') });
    const conductor = await conductorP;
    await once(conductor, 'piece');
    ac.abort(new Error('user cancelled'));
    await assert.rejects(p1, /user cancelled/);
    const r2 = await p2;
    assert.equal(conductors, 1, 'both requests were served by one conductor');
    assert.equal(r2.reused, false);
    assert.equal(await sha256File(path.join(rig.outDir, 'two')), a.layer.digest);
    await assert.rejects(access(path.join(rig.outDir, 'one')));
  } finally {
    await rig.close();
  }
});

test('onProgress reports bytes during the download, monotonic, ending at 100 %; a request made right after a cancellation starts afresh', async () => {
  const rig = await makeRig(env.reg, { rateLimit: 16 * MiB });
  try {
    const a = await pushSif(env.reg, 'progress/img', 'v1', { size: 24 * MiB, seed: 24 });
    const url = env.reg.ref('progress/img:v1', env.proxy.host);
    // Cancel a first request once it has made progress…
    const ac = new AbortController();
    const conductorP = nextConductor(rig);
    const first = rig.manager.download({ url, output: path.join(rig.outDir, 'first'), signal: ac.signal });
    await once(await conductorP, 'piece');
    ac.abort(new Error('changed my mind'));
    await assert.rejects(first, /changed my mind/);
    // …then ask again at once: the new request must not join the task being torn down.
    const seen: number[] = [];
    const r = await rig.manager.download({
      url,
      output: path.join(rig.outDir, 'second'),
      onProgress: (p) => seen.push(p.percent),
    });
    assert.equal(await sha256File(path.join(rig.outDir, 'second')), a.layer.digest);
    assert.equal(r.reused, false);
    assert.ok(
      seen.some((p) => p > 0 && p < 100),
      `intermediate progress: ${seen.join(',')}`,
    );
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!);
    assert.equal(seen.at(-1), 100);
    assert.equal(seen.filter((p) => p === 100).length, 1, `100 % once: ${seen.join(',')}`);
  } finally {
    await rig.close();
  }
});

test('cancelling the only request of an advance-strategy pull leaves nothing beside the output and no task dir', async () => {
  const rig = await makeRig(env.reg, { storage: { strategy: 'io.d7y.storage.v2.advance' }, rateLimit: 8 * MiB });
  try {
    await pushSif(env.reg, 'cancel/one', 'v1', { size: 16 * MiB, seed: 23 });
    await cancelAfterFirstPiece(rig, env.reg.ref('cancel/one:v1', env.proxy.host), path.join(rig.outDir, 'x.sif'));
    assert.deepEqual(
      (await readdir(rig.outDir)).filter((f) => f.includes('dfget.cache') || f === 'x.sif'),
      [],
      'no hidden cache file, no output',
    );
    assert.deepEqual(
      (await readdir(rig.dataPath)).filter((f) => !f.startsWith('.')),
      [],
      'no task dir left',
    );
  } finally {
    await rig.close();
  }
});

test('a registry outage mid-pull fails the pull typed and keeps its verified pieces: the retry fetches only the rest', async () => {
  const rig = await makeRig(env.reg, {
    conductor: { concurrency: 1, pieceRetries: 2, retryMinDelay: 10, retryMaxDelay: 20 },
    client: { retry: { maxRetries: 1, minDelay: 10, maxDelay: 20 } },
  });
  try {
    const size = 24 * MiB;
    const a = await pushSif(env.reg, 'outage/img', 'v1', { size, seed: 26 });
    const url = env.reg.ref('outage/img:v1', env.proxy.host);
    const out = path.join(rig.outDir, 'outage.sif');
    // The connection drops after 10 MiB, and the registry answers 503 from then on.
    env.proxy.addRule({ blobsOnly: true, method: 'GET', times: 1, fault: { kind: 'reset', afterBytes: 10 * MiB } });
    env.proxy.addRule({ blobsOnly: true, method: 'GET', fault: { kind: 'status', status: 503 } });
    await assert.rejects(rig.manager.download({ url, output: out }), { code: 'ERR_ORASFLY_TASK_FAILED' });
    await assert.rejects(access(out), 'no output');
    env.proxy.clearRules();
    env.proxy.resetLog();
    const r = await rig.manager.download({ url, output: out });
    assert.equal(await sha256File(out), a.layer.digest);
    // The 4 MiB pieces wholly within the first 10 MiB were kept: 16 MiB is fetched again (and the
    // one-byte range probe).
    assert.ok(env.proxy.blobBytesSent() < size - 8 * MiB + 1024, `fetched again: ${env.proxy.blobBytesSent()} bytes`);
    assert.equal(r.reused, false);
  } finally {
    env.proxy.clearRules();
    await rig.close();
  }
});

test('a cancelled pull keeps its verified pieces in the store (simple strategy); the next pull resumes', async () => {
  // One connection: a probe's split would add the bytes in flight past the split to the count.
  const rig = await makeRig(env.reg, { rateLimit: 8 * MiB, conductor: { concurrency: 1 } });
  try {
    const size = 16 * MiB;
    const a = await pushSif(env.reg, 'cancel/keep', 'v1', { size, seed: 27 });
    const url = env.reg.ref('cancel/keep:v1', env.proxy.host);
    const out = path.join(rig.outDir, 'keep.sif');
    env.proxy.resetLog();
    await cancelAfterFirstPiece(rig, url, out);
    await assert.rejects(access(out), 'no output');
    const partial = (await rig.storage.list()).filter((e) => e.state === 'partial');
    assert.equal(partial.length, 1, 'one resumable entry');
    // The proxy logs the cancelled response when its socket closes: count only what comes after.
    await env.proxy.waitFor((r) => /\/blobs\/sha256:/.test(r.path));
    env.proxy.resetLog();
    await rig.manager.download({ url, output: out });
    assert.equal(await sha256File(out), a.layer.digest);
    assert.ok(env.proxy.blobBytesSent() < size - 4 * MiB + 1024, `fetched again: ${env.proxy.blobBytesSent()} bytes`);
  } finally {
    await rig.close();
  }
});
