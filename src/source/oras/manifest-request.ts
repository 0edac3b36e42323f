/**
 * The manifest GET, and what it means when a reference names a layer: `oras://host/repo@sha256:…`
 * with a layer's digest (copied from `oras manifest fetch` or a registry's UI) is answered 404, or
 * 500 by distribution's registry, which the retry policy would retry for seconds. One HEAD of the
 * blob tells a layer from a missing manifest, and the error says what to do instead.
 *
 * @module
 */
import { InvalidReferenceError } from '../../core/errors.js';
import { destroyBody } from './body.js';
import type { RegistryHttp, RegistryHttpRequest, RegistryHttpResponse } from './http.js';
import { formatReference, type OrasReference } from './reference.js';

/**
 * Sends the manifest GET `get` for `ref`'s `wanted` tag or digest.
 *
 * @throws InvalidReferenceError (`ERR_ORASFLY_INVALID_REFERENCE`) when `wanted` is the digest of a
 * blob of the repository (`that is a blob digest: use --digest`), at once, without retries.
 * @throws what {@link RegistryHttp.send} throws otherwise.
 */
export async function sendManifestGet(
  http: RegistryHttp,
  get: RegistryHttpRequest,
  ref: OrasReference,
  wanted: string,
  blobUrl: string,
): Promise<RegistryHttpResponse> {
  if (!wanted.includes(':')) return http.send(get);
  const first = await http.send({ ...get, accept: [200, 404, 500] });
  if (first.status === 200) return first;
  destroyBody(first.body);
  const head = await http
    .send({ ...get, method: 'HEAD', url: blobUrl, accept: [200, 404], noBodyStatuses: [200, 404] })
    .catch(() => undefined);
  if (head) destroyBody(head.body);
  if (head?.status === 200) {
    const tagged = formatReference({ ...ref, digest: undefined, layerDigest: undefined, tag: ref.tag ?? 'TAG' });
    throw new InvalidReferenceError(
      formatReference(ref),
      `${wanted} names a layer of ${ref.repository}, not a manifest: that is a blob digest: use --digest ` +
        `(the digest option) with a tag, e.g. ${tagged} --digest ${wanted}`,
    );
  }
  // Not a layer: ask again as any request is asked (a real 500 is retried, a 404 is the answer).
  return http.send(get);
}
