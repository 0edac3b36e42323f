/**
 * undici, loaded when the first request through it is made: `undici-modules.ts` behind a dynamic
 * import, and a client's dispatcher built from it then. A reuse answered by the store or by a
 * direct request never evaluates undici (its bundle chunk and the llhttp WebAssembly: about 20 ms).
 *
 * @module
 */
import { channel } from 'node:diagnostics_channel';
import type { Dispatcher } from 'undici';
import type * as UndiciModules from './undici-modules.js';

/**
 * The diagnostics channel published right before undici is first loaded, so that a program that
 * owns its process (the `orasfly` command) can tune the runtime for it only when it is used.
 */
export const UNDICI_LOAD_CHANNEL = 'orasfly:undici-load';

/** Says on {@link UNDICI_LOAD_CHANNEL} that undici is about to be loaded (by any module of ours). */
export function announceUndiciLoad(): void {
  const ch = channel(UNDICI_LOAD_CHANNEL);
  if (ch.hasSubscribers) ch.publish(undefined);
}

/** The undici modules this library uses (the runtime evaluates them once, at the first call). */
export function loadUndici(): Promise<typeof UndiciModules> {
  announceUndiciLoad();
  return import('./undici-modules.js');
}

/** A dispatcher built on first use (`build` receives the loaded modules), then the same one. */
export class LazyDispatcher {
  readonly #build: (u: typeof UndiciModules) => Dispatcher;
  #built: Dispatcher | undefined;
  #pending: Promise<Dispatcher> | undefined;

  constructor(build: (u: typeof UndiciModules) => Dispatcher, ready?: Dispatcher) {
    this.#build = build;
    this.#built = ready;
  }

  /** The dispatcher, loading undici first if this is the first request. */
  get(): Promise<Dispatcher> {
    if (this.#built) return Promise.resolve(this.#built);
    // A failed load or build is not kept: the next request tries again.
    return (this.#pending ??= loadUndici()
      .then((u) => (this.#built = this.#build(u)))
      .catch((e: unknown) => {
        this.#pending = undefined;
        throw e;
      }));
  }

  /** The dispatcher if it was built or is being built (nothing to close otherwise). */
  async current(): Promise<Dispatcher | undefined> {
    return this.#built ?? (this.#pending ? await this.#pending.catch(() => undefined) : undefined);
  }
}
