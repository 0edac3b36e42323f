// OrasResourceClient.stream against the real registry: blob bodies read on connections of their own
// straight into the caller's memory (plain, token auth, TLS), and through undici where that path
// declines (a redirect to a blob store) or must not be used (an injected dispatcher).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from 'undici';
import { startRegistry, pushSif, type RunningRegistry } from '../../harness/index.js';
import { OrasResourceClient } from '../../../src/source/oras/oras-resource-client.js';
import { ChunkPool } from '../../../src/internal/chunk-pool.js';

const home = mkdtempSync(path.join(tmpdir(), 'orasfly-home-'));
const registries: RunningRegistry[] = [];
const clients: OrasResourceClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(registries.map((r) => r.stop()));
  rmSync(home, { recursive: true, force: true });
});
function client(o: ConstructorParameters<typeof OrasResourceClient>[0] = {}): OrasResourceClient {
  const c = new OrasResourceClient({ homeDir: home, dockerConfig: [], ...o });
  clients.push(c);
  return c;
}

/** A pool that remembers its buffers, and a sink that hashes and notes where each chunk lives. */
function tracked(): {
  pool: ChunkPool;
  sink: (c: Uint8Array) => undefined;
  digest(): string;
  bytes: number;
  pooled: number;
  foreign: number;
} {
  const pool = new ChunkPool();
  const ours = new Set<ArrayBufferLike>();
  const take = pool.take.bind(pool);
  pool.take = () => {
    const b = take();
    ours.add(b.buffer);
    return b;
  };
  const h = createHash('sha256');
  const t = {
    pool,
    bytes: 0,
    pooled: 0,
    foreign: 0,
    sink: (c: Uint8Array): undefined => {
      h.update(c);
      t.bytes += c.length;
      if (ours.has(c.buffer)) t.pooled++;
      else t.foreign++;
      return undefined;
    },
    digest: () => `sha256:${h.digest('hex')}`,
  };
  return t;
}

for (const variant of ['anonymous', 'token', 'tls'] as const) {
  test(`${variant}: stream() reads the blob and a range into the given memory, verified`, async () => {
    const reg = await startRegistry({ variant });
    registries.push(reg);
    const pushed = await pushSif(reg, 'direct/img', 'v1', { size: 3 * 1024 * 1024 + 5, seed: 11 });
    const c = client({
      ...(reg.caFile ? { caFile: reg.caFile } : {}),
      ...(reg.credentials ? { credentials: reg.credentials } : {}),
    });
    const target = await c.resolve(reg.ref('direct/img:v1'));
    const whole = tracked();
    await c.stream(target, undefined, whole.sink, { memory: whole.pool });
    assert.equal(whole.digest(), pushed.layer.digest);
    assert.ok(whole.pooled > 0 && whole.foreign === 0, `pooled ${whole.pooled}, elsewhere ${whole.foreign}`);
    assert.equal(whole.pool.lent, 0);
    const part = tracked();
    await c.stream(target, { start: 1000, length: 1024 * 1024 }, part.sink, { memory: part.pool });
    assert.equal(part.bytes, 1024 * 1024);
    assert.equal(part.foreign, 0);
  });
}

test('redirect: stream() goes through undici for a blob store redirect, and drops Authorization there', async () => {
  const reg = await startRegistry({ variant: 'redirect' });
  registries.push(reg);
  const pushed = await pushSif(reg, 'redir/img', 'v1', { size: 512 * 1024, seed: 4 });
  const c = client();
  const target = await c.resolve(reg.ref('redir/img:v1'));
  for (let i = 0; i < 2; i++) {
    const t = tracked();
    await c.stream(target, undefined, t.sink, { memory: t.pool, headers: { Authorization: 'Basic dTpw' } });
    assert.equal(t.digest(), pushed.layer.digest);
    assert.equal(t.pooled, 0, 'a redirected body came through the direct path');
  }
  for (const names of reg.blobOrigin!.headersSeen) assert.ok(!names.includes('authorization'), names.join(','));
});

test('an injected dispatcher carries every request: no direct connection', async () => {
  const reg = await startRegistry({ variant: 'anonymous' });
  registries.push(reg);
  const pushed = await pushSif(reg, 'inj/img', 'v1', { size: 256 * 1024, seed: 5 });
  let dispatched = 0;
  const agent = new Agent();
  const dispatcher = new Proxy(agent, {
    get(target, key, receiver) {
      if (key === 'dispatch') return (...a: Parameters<Agent['dispatch']>) => (dispatched++, target.dispatch(...a));
      const v = Reflect.get(target, key, receiver) as unknown;
      return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
    },
  });
  const c = client({ dispatcher });
  const target = await c.resolve(reg.ref('inj/img:v1'));
  const before = dispatched;
  const t = tracked();
  await c.stream(target, undefined, t.sink, { memory: t.pool });
  assert.equal(t.digest(), pushed.layer.digest);
  assert.equal(t.pooled, 0);
  assert.equal(dispatched - before, 1);
  await agent.close();
});
