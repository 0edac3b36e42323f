/**
 * The rig of the cluster tests (a fake dfdaemon or dfdaemon proxy in front of a real registry): a
 * registry, the fault proxy in front of it — pull through `reg.ref(ref, fault.host)`, and its log
 * tells who fetched what — one pushed SIF image, and a temp dir for the tests' stores. The fakes
 * themselves stay with the tests, which start them each in their own way.
 *
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { pushSif, type PushedArtifact } from './push.js';
import { startRegistry, type RegistryVariant, type RunningRegistry } from './registry.js';

/** What {@link startClusterRig} starts and pushes. */
export interface ClusterRigOptions {
  /** Names the temp dir: `orasfly-<name>-XXXXXX`. */
  name: string;
  /** The registry's flavour. @defaultValue 'token' */
  variant?: RegistryVariant;
  /** The image pushed, as `<repo>:v1`. */
  repo: string;
  /** Its layer's size and content seed (see {@link pushSif}). */
  size: number;
  seed: number;
}

/** A running rig; see {@link startClusterRig}. */
export interface ClusterRig {
  /** A temp dir for the tests, removed by {@link ClusterRig.close}. */
  readonly root: string;
  readonly reg: RunningRegistry;
  /** The fault proxy in front of `reg`. */
  readonly fault: FaultProxy;
  /** The image `<repo>:v1`. */
  readonly pushed: PushedArtifact;
  /** Stops the proxy and the registry and removes the temp dir. */
  close(): Promise<void>;
}

/** Starts a registry and a fault proxy in front of it and pushes one SIF image; cleans up itself if a step fails. */
export async function startClusterRig(options: ClusterRigOptions): Promise<ClusterRig> {
  const root = await mkdtemp(path.join(os.tmpdir(), `orasfly-${options.name}-`));
  let reg: RunningRegistry | undefined;
  let fault: FaultProxy | undefined;
  const close = async (): Promise<void> => {
    await fault?.close();
    await reg?.stop();
    await rm(root, { recursive: true, force: true });
  };
  try {
    reg = await startRegistry({ variant: options.variant ?? 'token' });
    fault = await startFaultProxy(reg.origin);
    const pushed = await pushSif(reg, options.repo, 'v1', { size: options.size, seed: options.seed });
    return { root, reg, fault, pushed, close };
  } catch (e) {
    await close();
    throw e;
  }
}
