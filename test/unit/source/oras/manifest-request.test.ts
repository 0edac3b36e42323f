// A layer's digest given as the reference, against the real registry: one clear error at once
// ("that is a blob digest: use --digest"), not a 500 retried for seconds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry, pushSif, type RunningRegistry, type PushedArtifact } from '../../../harness/index.js';
import { OrasResourceClient } from '../../../../src/source/oras/oras-resource-client.js';
import { InvalidReferenceError, RegistryResponseError } from '../../../../src/core/errors.js';

let reg: RunningRegistry;
let pushed: PushedArtifact;
let home: string;
before(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'orasfly-manifest-request-'));
  reg = await startRegistry({ variant: 'anonymous' });
  pushed = await pushSif(reg, 'm/img', 'v1', { size: 4096, seed: 61 });
});
after(async () => {
  await reg?.stop();
  rmSync(home, { recursive: true, force: true });
});

test('a layer digest as the reference fails at once: "that is a blob digest: use --digest", no retries', async () => {
  const c = new OrasResourceClient({ homeDir: home, dockerConfig: [] });
  try {
    const before = c.requestCount;
    await assert.rejects(
      c.resolve(reg.ref(`m/img@${pushed.layer.digest}`)),
      (e: unknown) =>
        e instanceof InvalidReferenceError &&
        e.kind === 'usage' &&
        e.message.includes('that is a blob digest: use --digest') &&
        e.message.includes(`${reg.ref('m/img:TAG')} --digest ${pushed.layer.digest}`),
    );
    // The manifest GET and the blob HEAD (plus the scheme decision's own traffic, which is not counted here).
    assert.ok(c.requestCount - before <= 2, `${c.requestCount - before} requests`);
    // The manifest's own digest still resolves; a digest of nothing is the registry's answer.
    assert.equal((await c.resolve(reg.ref(`m/img@${pushed.manifestDigest}`))).digest, pushed.layer.digest);
    await assert.rejects(
      c.resolve(reg.ref(`m/img@sha256:${'0'.repeat(64)}`)),
      (e: unknown) => e instanceof RegistryResponseError && !(e instanceof InvalidReferenceError),
    );
  } finally {
    await c.close();
  }
});
