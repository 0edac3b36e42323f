// The rig of the conductor's unit tests: a blob's task begun in a fresh store (a temp dir) and a
// PeerTaskConductor for it over the test's transports; the store is closed and the dir removed
// after the test, whatever its outcome.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PeerTaskConductor, type ConductorInit } from '../../../src/conductor/peer-task-conductor.js';
import { planPieces } from '../../../src/core/piece-plan.js';
import { StorageManager } from '../../../src/storage/storage-manager.js';

/** What a test chooses: the blob, its piece size, and the conductor's transports and options. */
export interface ConductorRigOptions extends Pick<ConductorInit, 'transport' | 'fallbackTransport' | 'options'> {
  /** The blob the task downloads: the target's size and digest are its own. */
  blob: Buffer;
  pieceSize: number;
}

/**
 * A conductor, not yet run, for `o.blob` cut in `o.pieceSize` pieces, and the store writer it holds
 * (`writer.dataFilePath` is where the blob lands while the task runs).
 */
export async function conductorRig(t: { after(fn: () => Promise<void>): void }, o: ConductorRigOptions) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-cond-'));
  const storage = await StorageManager.open({ dataPath: dir, multiplex: true });
  t.after(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });
  const { blob, pieceSize } = o;
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  const taskId = createHash('sha256').update(digest).digest('hex');
  const begun = await storage.beginTask({
    taskId,
    peerId: '127.0.0.1-1-test',
    digest,
    contentLength: blob.length,
    pieceSize,
  });
  assert.ok('writer' in begun);
  const conductor = new PeerTaskConductor({
    taskId,
    peerId: 'p',
    target: { url: 'oras://h/r:t', digest, size: blob.length, mediaType: 'application/octet-stream' },
    plan: planPieces(blob.length, pieceSize),
    writer: begun.writer,
    transport: o.transport,
    fallbackTransport: o.fallbackTransport,
    options: o.options,
  });
  return { conductor, writer: begun.writer };
}
