// Pulls through DfdaemonTransport against the protocol fake of dfdaemon, shared by the transport's
// integration tests: a cluster rig (a token registry behind a fault proxy) for the file, a fresh
// fake daemon for each test, and one pull with a fresh store (or a given one) at a time.
import { before, after, beforeEach } from 'node:test';
import path from 'node:path';
import { startClusterRig, type ClusterRig } from '../../harness/index.js';
import { startFakeDfdaemon, type FakeDfdaemon } from '../../harness/fake-dfdaemon.js';
import { createDownloader } from '../../../src/downloader.js';
import { DfdaemonTransport, type DfdaemonTransportOptions } from '../../../src/transport/dfdaemon-transport.js';

export const KiB = 1024;
/** The blob the rig pushes as `d/img:v1`. */
export const SIZE = 1024 * KiB;
/** The piece size every pull uses (the blob is four pieces). */
export const PIECE = 256 * KiB;

/** The `msg` of each core.log record. */
export const msgs = (lines: Array<Record<string, unknown>>): string[] => lines.map((l) => String(l['msg']));

/** Registers the file's hooks; the rig and the current fake are read through the returned getters. */
export function fakeDfdaemonPulls(o: { name: string; seed: number }) {
  let rig: ClusterRig;
  let fake: FakeDfdaemon;
  let n = 0;
  before(async () => {
    rig = await startClusterRig({ name: o.name, repo: 'd/img', size: SIZE, seed: o.seed });
  });
  after(async () => {
    await fake?.close();
    await rig?.close();
  });
  beforeEach(async () => {
    await fake?.close();
    fake = await startFakeDfdaemon();
    rig.fault.resetLog();
  });
  /** Replaces the test's fake with one started with `options` (a replay, say). */
  async function restartFake(options?: Parameters<typeof startFakeDfdaemon>[0]): Promise<void> {
    await fake.close();
    fake = await startFakeDfdaemon(options);
  }
  /** A directory of the rig's, new for each call. */
  const freshDir = (prefix: string): string => path.join(rig.root, `${prefix}${n++}`);

  /** One pull of `d/img:v1` through a transport on the fake, with a fresh store unless `store` is given. */
  async function pull(
    options: DfdaemonTransportOptions = {},
    extra: { signal?: AbortSignal; onPiece?: () => void; store?: string; totalRateLimit?: string } = {},
  ) {
    const dir = freshDir('p');
    const transport = new DfdaemonTransport({ socketPath: fake.socketPath, busyRetryDelay: '10ms', ...options });
    const lines: Array<Record<string, unknown>> = [];
    const dl = await createDownloader({
      storage: { dataPath: extra.store ?? path.join(dir, 'store') },
      oras: { credentials: rig.reg.credentials },
      download: { pieceSize: PIECE, concurrency: 2, totalRateLimit: extra.totalRateLimit },
      transport,
      logSink: { write: (r) => void lines.push(r as unknown as Record<string, unknown>) },
    });
    if (extra.onPiece) dl.manager.onConductor((c) => c.on('piece', extra.onPiece!));
    const output = path.join(dir, 'out.sif');
    try {
      const result = await dl.download({ url: rig.reg.ref('d/img:v1', rig.fault.host), output, signal: extra.signal });
      return { result, output, lines, dir };
    } finally {
      await dl.close();
      await transport.close();
    }
  }

  return {
    get rig(): ClusterRig {
      return rig;
    },
    get fake(): FakeDfdaemon {
      return fake;
    },
    freshDir,
    restartFake,
    pull,
  };
}
