import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyTransport } from '../../../src/transport/proxy-transport.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';
import type { TransportTask } from '../../../src/transport/piece-transport.js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeTlsCerts, serveHttpsForTest, useExtraCaFileForTest } from '../../harness/certs.js';

test('the proxy must be an http(s) URL without credentials; the priority 0..6', async () => {
  for (const proxy of ['not a url', 'socks5://127.0.0.1:1080', 'http://u:p@127.0.0.1:4001']) {
    assert.throws(() => new ProxyTransport({ proxy }), InvalidArgumentError, proxy);
  }
  assert.throws(
    () => new ProxyTransport({ proxy: 'http://127.0.0.1:4001', priority: 7 as never }),
    InvalidArgumentError,
  );
  const t = new ProxyTransport({ proxy: 'http://127.0.0.1:4001', backToSource: false });
  assert.equal(t.backToSource, false);
  assert.equal(await t.supportsRange(), true);
  await t.close();
});

test('no credential header of any name goes in clear text to a proxy off this machine', async () => {
  const t = new ProxyTransport({ proxy: 'http://proxy.invalid:4001' });
  const task = (headers: Record<string, string>) =>
    ({
      taskId: 't',
      plan: { contentLength: 8, pieceSize: 8, totalPieces: 1 },
      origin: { request: async () => ({ url: 'http://registry.invalid/v2/x/blobs/sha256:1', headers }) },
    }) as unknown as TransportTask;
  try {
    const cases: Record<string, string>[] = [
      { Authorization: 'Bearer T' },
      { 'X-Auth-Token': 'T' },
      { Cookie: 'session=T' },
    ];
    for (const headers of cases)
      await assert.rejects(
        t.readSequential(task(headers), {}),
        (e: unknown) => e instanceof Error && /not sending registry credentials .* in clear text/.test(e.message),
        Object.keys(headers)[0],
      );
  } finally {
    await t.close();
  }
});

test('an https proxy signed by a CA that only NODE_EXTRA_CA_CERTS names is trusted when Node did not load the file (nodeExtraCaLoaded: false)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orasfly-proxy-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const certs = await makeTlsCerts(dir);
  const { origin } = await serveHttpsForTest(t, certs, (_q, res) => res.end('8 bytes!'));
  useExtraCaFileForTest(t, certs.caFile);
  const task = {
    taskId: 't',
    plan: { contentLength: 8, pieceSize: 8, totalPieces: 1 },
    origin: { request: async () => ({ url: 'http://registry.invalid/v2/x/blobs/sha256:1', headers: {} }) },
  } as unknown as TransportTask;
  const read = async (nodeExtraCaLoaded: boolean) => {
    const p = new ProxyTransport({
      proxy: origin,
      nodeExtraCaLoaded,
    });
    try {
      const parts: Buffer[] = [];
      for await (const c of await p.readSequential(task, {})) parts.push(Buffer.from(c));
      return Buffer.concat(parts).toString();
    } catch (e) {
      return e as Error;
    } finally {
      await p.close();
    }
  };
  assert.equal(await read(false), '8 bytes!');
  assert.ok((await read(true)) instanceof Error, 'a CA Node never loaded was trusted');
});
