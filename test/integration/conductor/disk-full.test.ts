// A full disk during a pull: a typed StorageQuotaError, nothing half-written left behind, the
// user's existing output untouched, and the store still usable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pushSif } from '../../harness/index.js';
import { useRegistryBehindProxy, makeRig, sha256File } from './helpers.js';
import { mountTmpfs } from '../storage/helpers.js';
import { StorageQuotaError } from '../../../src/core/errors.js';

const MiB = 1024 * 1024;
const env = useRegistryBehindProxy();

test('ENOSPC while writing pieces fails with StorageQuotaError, cleans up, and leaves the output as it was', async (t) => {
  const small = mountTmpfs(t, '6m');
  if (!small) return;
  const rig = await makeRig(env.reg, { storage: { dataPath: path.join(small, 'data') } });
  try {
    await pushSif(env.reg, 'full/big', 'v1', { size: 12 * MiB, seed: 41 });
    const fits = await pushSif(env.reg, 'full/small', 'v1', { size: 2 * MiB, seed: 42 });
    await mkdir(rig.outDir, { recursive: true });
    const out = path.join(rig.outDir, 'big.sif');
    await writeFile(out, 'previous version');
    await assert.rejects(
      rig.manager.download({ url: env.reg.ref('full/big:v1'), output: out }),
      (e: unknown) => e instanceof StorageQuotaError,
    );
    assert.equal(await readFile(out, 'utf8'), 'previous version');
    assert.deepEqual(
      (await readdir(path.join(small, 'data'))).filter((f) => !f.startsWith('.')),
      [],
      'no partial task left',
    );
    // The space was given back: a blob that fits still downloads into the same store.
    const r = await rig.manager.download({
      url: env.reg.ref('full/small:v1'),
      output: path.join(rig.outDir, 'small.sif'),
    });
    assert.equal(await sha256File(path.join(rig.outDir, 'small.sif')), fits.layer.digest);
    assert.equal(r.digest, fits.layer.digest);
  } finally {
    await rig.close();
  }
});
