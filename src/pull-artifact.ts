/**
 * Whole-artifact pulls (`orasfly -O DIR --all-layers`, `Downloader.downloadAll`): every layer of a
 * manifest into a directory under its `org.opencontainers.image.title`, as `oras pull` does, each
 * layer a task of its own, so the store dedupes, verifies and resumes it like any single pull. A
 * verb above the manager: it only needs a client that lists layers and a `download()`.
 *
 * @module
 */
import path from 'node:path';
import { InvalidArgumentError, ManifestError, TimeoutError } from './core/errors.js';
import { anySignal } from './internal/abort.js';
import { clip, listBounded, MAX_LISTED_ITEMS, quote } from './core/describe.js';
import type { ResolvedResource, ResourceClient } from './source/resource-client.js';
import type {
  ArtifactDownloadRequest,
  ArtifactDownloadResult,
  DownloadRequest,
  DownloadResult,
  SkippedLayer,
} from './conductor/download-types.js';
import { assertRealDirectories, layerPath } from './conductor/output.js';
import { assertOutputPath } from './storage/output-path.js';
import { monotonicMs } from './internal/clock.js';

/** What a whole-artifact pull drives: a client that can list layers, and single pulls (a `PeerTaskManager`). */
export interface ArtifactPuller {
  readonly client: ResourceClient;
  /** The task store, when there is one: no output may lie inside it (checked before any layer). */
  readonly storage?: { readonly options: { readonly dataPath: string } } | undefined;
  download(request: DownloadRequest): Promise<DownloadResult>;
}

/**
 * Pulls every titled layer of `request.url` into `request.outputDir`. All titles are checked before
 * the first byte is fetched: an unsafe one (absolute, `..`, a dot-name), two layers of one name, one
 * title that is a directory of another (`a`, `a/b`), or a directory where a title puts a file fail
 * the pull with nothing written. Files of the same names in the directory are replaced, as
 * `oras pull` replaces them (each atomically); untitled layers are skipped and reported.
 *
 * @throws ManifestError (`ERR_ORASFLY_MANIFEST`) for unsafe, duplicate or clashing titles, or no titled layer.
 * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) when the client cannot list layers,
 * a directory on the way is a symbolic link or not a directory, or an output is not a regular file.
 * @throws whatever `manager.download` throws, for the first layer that fails; the
 * layers before it stay in the directory (and in the store).
 */
export async function downloadArtifact(
  manager: ArtifactPuller,
  request: ArtifactDownloadRequest,
): Promise<ArtifactDownloadResult> {
  if (!request || typeof request.url !== 'string' || !request.url)
    throw new InvalidArgumentError('url', 'a URL is required');
  if (typeof request.outputDir !== 'string' || !request.outputDir)
    throw new InvalidArgumentError('outputDir', 'an output directory is required');
  const client = manager.client;
  if (typeof client.resolveLayers !== 'function')
    throw new InvalidArgumentError('allLayers', 'this resource client cannot list the layers of an artifact');
  const started = monotonicMs();
  const outputDir = path.resolve(request.outputDir);
  // One deadline for the whole artifact: each layer gets what is left of it.
  const deadline = request.timeout ? started + request.timeout : undefined;
  const timeoutSignal = request.timeout ? AbortSignal.timeout(request.timeout) : undefined;
  let layers: ResolvedResource[];
  try {
    layers = await client.resolveLayers(request.url, {
      signal: anySignal(request.signal, timeoutSignal),
      headers: request.headers,
    });
  } catch (e) {
    if (timeoutSignal?.aborted && e === timeoutSignal.reason) throw new TimeoutError(request.timeout!, 'download');
    throw e;
  }
  const { pulled, skipped } = planOutputs(layers, outputDir);
  // Every output checked before the first layer is fetched: a directory (or a device) standing where
  // a title puts a file would otherwise fail the pull after the layers before it.
  for (const p of pulled) {
    await assertRealDirectories(outputDir, p.output);
    await assertOutputPath(p.output, manager.storage?.options.dataPath);
  }

  const total = pulled.reduce((n, p) => n + p.layer.size, 0);
  let done = 0;
  const results: DownloadResult[] = [];
  for (const [i, { layer, output }] of pulled.entries()) {
    const base = done;
    results.push(
      await manager.download({
        ...request,
        output,
        resolved: layer,
        timeout: deadline !== undefined ? Math.max(1, Math.ceil(deadline - monotonicMs())) : undefined,
        // A layer served from the store has no transfer to show.
        onProgress: request.onProgress
          ? (p) => p.reused || request.onProgress!({ layer: i, transferred: base + p.transferred, total })
          : undefined,
      }),
    );
    done += layer.size;
  }
  const first = layers[0]!;
  return {
    outputDir,
    manifestDigest: first.manifestDigest,
    manifestMediaType: first.manifestMediaType,
    artifactType: first.artifactType,
    layers: results,
    skipped,
    contentLength: total,
    costMs: Math.round(monotonicMs() - started),
  };
}

/** Where each layer goes; refuses unsafe and duplicate titles before anything is written. */
function planOutputs(
  layers: readonly ResolvedResource[],
  outputDir: string,
): { pulled: Array<{ layer: ResolvedResource; output: string }>; skipped: SkippedLayer[] } {
  const pulled: Array<{ layer: ResolvedResource; output: string }> = [];
  const skipped: SkippedLayer[] = [];
  const unsafe: string[] = [];
  const seen = new Map<string, number>();
  for (const [i, layer] of layers.entries()) {
    if (layer.title === undefined || layer.title === '') {
      skipped.push({
        digest: layer.digest,
        mediaType: layer.mediaType,
        size: layer.size,
        reason: 'no org.opencontainers.image.title',
      });
      continue;
    }
    const rel = layerPath(layer.title);
    if (rel === undefined) {
      unsafe.push(`#${i} ${quote(layer.title, 60)}`);
      continue;
    }
    const before = seen.get(rel);
    if (before !== undefined)
      throw new ManifestError(
        `layers #${before} and #${i} are both titled ${quote(layer.title, 60)}; one directory cannot hold both`,
      );
    seen.set(rel, i);
    pulled.push({ layer, output: path.join(outputDir, rel) });
  }
  // `a` and `a/b`: one path cannot be a layer's file and another's directory.
  for (const [rel, i] of seen)
    for (let dir = path.dirname(rel); dir !== '.'; dir = path.dirname(dir)) {
      const file = seen.get(dir);
      if (file !== undefined)
        throw new ManifestError(
          `layer #${file} is titled ${quote(layers[file]!.title!, 60)} and layer #${i} ${quote(layers[i]!.title!, 60)}, ` +
            'which needs that name as a directory; one path cannot be both',
        );
    }
  if (unsafe.length) {
    throw new ManifestError(
      `${unsafe.length} layer title(s) are not safe file names (absolute, "..", a dot-name ` +
        `or a control character), so nothing was pulled: ${listBounded(unsafe, MAX_LISTED_ITEMS, (u) => clip(u, 80))}`,
    );
  }
  if (pulled.length === 0)
    throw new ManifestError(
      `none of the ${layers.length} layers has an org.opencontainers.image.title, so none has a file name; pull one with -O FILE --layer-index N`,
    );
  return { pulled, skipped };
}
