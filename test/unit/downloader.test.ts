import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createDownloader, downloaderOptionsFromConfig } from '../../src/downloader.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { SourceTransport } from '../../src/transport/source-transport.js';
import { OrasResourceClient } from '../../src/source/oras/oras-resource-client.js';

test('createDownloader needs a data path, and one transport: given, or made from cluster options', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-downloader-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(
    createDownloader({ storage: {} as never }),
    (e: unknown) => e instanceof InvalidArgumentError && e.field === 'storage.dataPath',
  );
  const client = new OrasResourceClient();
  t.after(() => client.close());
  await assert.rejects(
    createDownloader({
      storage: { dataPath: dir },
      transport: new SourceTransport(client),
      cluster: { endpoint: '/x.sock' },
    }),
    /not both/,
  );
  await assert.rejects(
    createDownloader({ storage: { dataPath: dir }, cluster: { endpoint: '/x.sock', proxy: 'http://127.0.0.1:4001' } }),
    /endpoint .* or proxy, not both/,
  );
  await assert.rejects(
    createDownloader({ storage: { dataPath: dir }, cluster: { backToSource: false } }),
    /needs a daemon/,
  );
  const dl = await createDownloader({
    storage: { dataPath: path.join(dir, 'store') },
    cluster: { endpoint: path.join(dir, 'd.sock') },
  });
  assert.equal(typeof dl.downloadAll, 'function');
  await dl.close();
});

test('downloaderOptionsFromConfig: the data path falls back to dataDir, then to the CLI default; core.log goes under logDir', () => {
  const base = { storage: {}, oras: {}, download: {} };
  assert.equal(downloaderOptionsFromConfig(base, { dataPath: '/default' }).storage.dataPath, '/default');
  assert.equal(
    downloaderOptionsFromConfig({ ...base, dataDir: '/dd' }, { dataPath: '/default' }).storage.dataPath,
    '/dd',
  );
  const o = downloaderOptionsFromConfig(
    { ...base, storage: { dataPath: '/sp' }, logDir: '/logs' },
    { dataPath: '/default' },
  );
  assert.equal(o.storage.dataPath, '/sp');
  assert.equal(o.logFile, path.join('/logs', 'dfget', 'core.log'));
  assert.equal(o.cluster, undefined);
});

test('a loaded config is the base of createDownloader: its dataDir is the store, explicit fields win', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-dl-config-'));
  try {
    const fromFile = await createDownloader({
      config: { dataDir: path.join(dir, 'a'), storage: {}, oras: {}, download: {} },
    });
    assert.equal(fromFile.storage.options.dataPath, path.join(dir, 'a'));
    await fromFile.close();
    const explicit = await createDownloader({
      config: { dataDir: path.join(dir, 'a'), storage: {}, oras: {}, download: {} },
      storage: { dataPath: path.join(dir, 'b') },
    });
    assert.equal(explicit.storage.options.dataPath, path.join(dir, 'b'));
    await explicit.close();
    await assert.rejects(createDownloader({}), (e: unknown) => e instanceof InvalidArgumentError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
