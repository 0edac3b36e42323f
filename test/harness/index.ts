/**
 * The real-registry test harness: start registries ({@link startRegistry}), push artifacts to
 * them ({@link pushSif} and friends), and inject faults between a client and a registry
 * ({@link startFaultProxy}); the cluster tests share one rig of all three ({@link startClusterRig}).
 * Paths: the repository root and the fixtures ({@link repoRoot}, {@link fixturePath}).
 *
 * @module
 */
export * from './registry.js';
export * from './push.js';
export * from './fault-proxy.js';
export * from './hostile-registry.js';
export * from './cluster-rig.js';
export * from './paths.js';
