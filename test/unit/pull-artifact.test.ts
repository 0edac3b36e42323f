import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { downloadArtifact, type ArtifactPuller } from '../../src/pull-artifact.js';
import type { DownloadRequest, DownloadResult } from '../../src/conductor/download-types.js';
import type { ResolvedResource, ResourceClient } from '../../src/source/resource-client.js';
import { InvalidArgumentError, ManifestError } from '../../src/core/errors.js';

function layer(i: number, title: string | undefined, size = 10): ResolvedResource {
  const digest = `sha256:${String(i).repeat(64).slice(0, 64)}`;
  return {
    url: 'oras://r/a:b',
    resolvedUrl: 'oras://r/a:b',
    digest,
    size,
    mediaType: 'application/octet-stream',
    manifestDigest: `sha256:${'f'.repeat(64)}`,
    ...(title !== undefined ? { title } : {}),
  };
}

/** A puller over fixed layers that records what it was asked to download and reports full progress. */
function puller(layers: ResolvedResource[] | undefined): ArtifactPuller & { asked: DownloadRequest[] } {
  const asked: DownloadRequest[] = [];
  const client = {
    resolve: () => Promise.reject(new Error('not used')),
    read: () => Promise.reject(new Error('not used')),
    close: () => Promise.resolve(),
    ...(layers ? { resolveLayers: () => Promise.resolve(layers) } : {}),
  } as unknown as ResourceClient;
  return {
    client,
    asked,
    download(request: DownloadRequest): Promise<DownloadResult> {
      asked.push(request);
      const size = request.resolved!.size;
      request.onProgress?.({ taskId: 't', transferred: size, total: size, percent: 100 });
      return Promise.resolve({ output: request.output, contentLength: size } as DownloadResult);
    },
  };
}

test('each titled layer goes to its title under the directory; untitled layers are skipped and reported', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-artifact-'));
  try {
    const p = puller([layer(1, 'a.sif', 10), layer(2, undefined), layer(3, 'docs/b.txt', 30)]);
    const seen: number[] = [];
    const r = await downloadArtifact(p, {
      url: 'oras://r/a:b',
      outputDir: dir,
      onProgress: (x) => seen.push(x.transferred),
    });
    assert.deepEqual(
      p.asked.map((a) => a.output),
      [path.join(dir, 'a.sif'), path.join(dir, 'docs', 'b.txt')],
    );
    assert.equal(r.skipped.length, 1);
    assert.equal(r.contentLength, 40);
    assert.deepEqual(seen, [10, 40]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('duplicate or unsafe titles fail before any layer is downloaded', async () => {
  for (const titles of [
    ['x', 'x'],
    ['ok', '../escape'],
    ['a', 'b', 'a/b'],
    ['d/e/f', 'd/e'],
  ]) {
    const p = puller(titles.map((t, i) => layer(i + 1, t)));
    await assert.rejects(downloadArtifact(p, { url: 'oras://r/a:b', outputDir: os.tmpdir() }), ManifestError);
    assert.equal(p.asked.length, 0, titles.join(','));
  }
});

test('a directory where a later layer’s file goes fails the pull before the first layer is fetched', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-artifact-'));
  try {
    await mkdir(path.join(dir, 'second.sif'));
    const p = puller([layer(1, 'first.sif'), layer(2, 'second.sif')]);
    await assert.rejects(
      downloadArtifact(p, { url: 'oras://r/a:b', outputDir: dir }),
      (e: unknown) => e instanceof InvalidArgumentError && /second\.sif.* is directory/.test(e.message),
    );
    assert.equal(p.asked.length, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a title that leads into the task store fails the pull before the first layer is fetched', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-artifact-'));
  try {
    const p = {
      ...puller([layer(1, 'first.sif'), layer(2, 'store/x.sif')]),
      storage: { options: { dataPath: path.join(dir, 'store') } },
    };
    await assert.rejects(
      downloadArtifact(p, { url: 'oras://r/a:b', outputDir: dir }),
      (e: unknown) => e instanceof InvalidArgumentError && /inside the task store/.test(e.message),
    );
    assert.equal(p.asked.length, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a client that cannot list layers, or a request without a directory, is an InvalidArgumentError', async () => {
  await assert.rejects(
    downloadArtifact(puller(undefined), { url: 'oras://r/a:b', outputDir: os.tmpdir() }),
    (e: unknown) => e instanceof InvalidArgumentError && e.field === 'allLayers',
  );
  await assert.rejects(
    downloadArtifact(puller([]), { url: 'oras://r/a:b', outputDir: '' }),
    (e: unknown) => e instanceof InvalidArgumentError && e.field === 'outputDir',
  );
});
