/** Shared set-up for end-to-end pulls: a store, a client and a manager over a harness registry. */
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OrasResourceClient } from '../../../src/source/oras/oras-resource-client.js';
import type { OrasClientOptions } from '../../../src/source/oras/options.js';
import { StorageManager } from '../../../src/storage/storage-manager.js';
import type { StorageOptions } from '../../../src/storage/options.js';
import { PeerTaskManager } from '../../../src/conductor/peer-task-manager.js';
import type { ConductorOptions } from '../../../src/conductor/peer-task-conductor.js';
import { FileLogSink } from '../../../src/log/core-log.js';
import { before, after } from 'node:test';
import { startRegistry, startFaultProxy, type RunningRegistry, type FaultProxy } from '../../harness/index.js';

export interface Rig {
  dir: string;
  dataPath: string;
  outDir: string;
  logFile: string;
  storage: StorageManager;
  client: OrasResourceClient;
  manager: PeerTaskManager;
  log: FileLogSink;
  close(): Promise<void>;
}

export function clientOptionsFor(reg: RunningRegistry): OrasClientOptions {
  return {
    ...(reg.credentials ? { credentials: reg.credentials } : {}),
    ...(reg.caFile ? { caFile: reg.caFile } : {}),
    homeDir: os.tmpdir(), // never read the developer's docker config in tests
    retry: { minDelay: 20, maxDelay: 200 },
  };
}

export async function makeRig(
  reg: RunningRegistry,
  opts: {
    storage?: Partial<StorageOptions>;
    conductor?: ConductorOptions;
    client?: OrasClientOptions;
    rateLimit?: number;
  } = {},
): Promise<Rig> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-pull-'));
  const dataPath = path.join(dir, 'data');
  const outDir = path.join(dir, 'out');
  const logFile = path.join(dir, 'logs', 'dfget', 'core.log');
  const storage = await StorageManager.open({
    dataPath,
    multiplex: true,
    strategy: 'io.d7y.storage.v2.simple',
    ...opts.storage,
  });
  const client = new OrasResourceClient({ ...clientOptionsFor(reg), ...opts.client });
  const log = new FileLogSink(logFile);
  const manager = new PeerTaskManager({
    client,
    storage,
    logSink: log,
    totalRateLimit: opts.rateLimit,
    conductor: { retryMinDelay: 10, retryMaxDelay: 100, ...opts.conductor },
  });
  return {
    dir,
    dataPath,
    outDir,
    logFile,
    storage,
    client,
    manager,
    log,
    async close() {
      try {
        await manager.close();
        await storage.close();
        await client.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

export { sha256File } from '../../harness/push.js';

export async function logLines(rig: Rig): Promise<Array<Record<string, unknown>>> {
  await rig.log.flush();
  const text = await readFile(rig.logFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * Starts an anonymous registry and a fault proxy in front of it for the enclosing suite (or file),
 * and stops both afterwards. Read `.reg` / `.proxy` inside tests.
 */
export function useRegistryBehindProxy(): { reg: RunningRegistry; proxy: FaultProxy } {
  const ctx = {} as { reg: RunningRegistry; proxy: FaultProxy };
  before(async () => {
    ctx.reg = await startRegistry({ variant: 'anonymous' });
    ctx.proxy = await startFaultProxy(ctx.reg.origin);
  });
  after(async () => {
    await ctx.proxy.close();
    await ctx.reg.stop();
  });
  return ctx;
}
