/**
 * Loads just the parts of undici a registry client uses. `import 'undici'` evaluates all of it
 * (fetch, WebSocket, cache, mocks: ~100 ms on this class of machine); the agent, connector and
 * request API take ~40 ms. That difference is a third of a reuse pull's start-up budget, so the
 * CLI and short-lived processes start noticeably faster. Each module falls back to the package
 * entry point if a future undici moves its files, so this can only cost time, never break.
 *
 * @module
 * @internal
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

function load<T>(deepPath: string, pick: (full: typeof Undici) => T): T {
  try {
    return require(deepPath) as T;
  } catch {
    return pick(require('undici') as typeof Undici);
  }
}

/** undici's `Agent` class. */
export function agentClass(): typeof Undici.Agent {
  return load('undici/lib/dispatcher/agent.js', (u) => u.Agent);
}

/** undici's `buildConnector`. */
export function buildConnector(): typeof Undici.buildConnector {
  return load('undici/lib/core/connect.js', (u) => u.buildConnector);
}

/** `ProxyAgent` (only loaded when a proxy is configured). */
export function proxyAgentClass(): typeof Undici.ProxyAgent {
  return load('undici/lib/dispatcher/proxy-agent.js', (u) => u.ProxyAgent);
}

/** `EnvHttpProxyAgent` (only loaded when a proxy variable is set). */
export function envHttpProxyAgentClass(): typeof Undici.EnvHttpProxyAgent {
  return load('undici/lib/dispatcher/env-http-proxy-agent.js', (u) => u.EnvHttpProxyAgent);
}

type RequestFn = (this: Undici.Dispatcher, opts: Undici.Dispatcher.RequestOptions) => Promise<Undici.Dispatcher.ResponseData>;
let requestFn: RequestFn | undefined;

/**
 * `dispatcher.request(opts)` without needing undici's prototype patching (which only the package
 * entry point performs). Works with any Dispatcher, including user-supplied ones.
 */
export function dispatcherRequest(dispatcher: Undici.Dispatcher, opts: Undici.Dispatcher.RequestOptions): Promise<Undici.Dispatcher.ResponseData> {
  requestFn ??= load<RequestFn>('undici/lib/api/api-request.js', () => function (this: Undici.Dispatcher, o) {
    return this.request(o);
  });
  return requestFn.call(dispatcher, opts);
}
