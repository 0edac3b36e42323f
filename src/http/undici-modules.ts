/**
 * Loads just the parts of undici a registry client uses. `import 'undici'` evaluates all of it
 * (fetch, WebSocket, cache, mocks: ~100 ms on this class of machine); the agent, connector and
 * request API take ~40 ms, which is a large share of a reuse pull's start-up. undici has no
 * `exports` map, so these paths are reachable; they have been stable since undici 6, and
 * `test/unit/http/undici-modules.test.ts` fails loudly if an upgrade moves or reshapes one. Proxy
 * agents, needed only with a proxy, are loaded on demand. Nothing here changes process-wide state.
 *
 * @module
 * @internal
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';
import Agent from 'undici/lib/dispatcher/agent.js';
import buildConnectorFn from 'undici/lib/core/connect.js';
import requestApi from 'undici/lib/api/api-request.js';

const require = createRequire(import.meta.url);

/** undici's `Agent` class. */
export function agentClass(): typeof Undici.Agent {
  return Agent;
}

/** undici's `buildConnector`. */
export function buildConnector(): typeof Undici.buildConnector {
  return buildConnectorFn;
}

/** `ProxyAgent` (only loaded when a proxy is configured). */
export function proxyAgentClass(): typeof Undici.ProxyAgent {
  return (require('undici') as typeof Undici).ProxyAgent;
}

/** `EnvHttpProxyAgent` (only loaded when a proxy variable is set). */
export function envHttpProxyAgentClass(): typeof Undici.EnvHttpProxyAgent {
  return (require('undici') as typeof Undici).EnvHttpProxyAgent;
}

/**
 * `dispatcher.request(opts)` without needing undici's prototype patching (which only the package
 * entry point performs). Works with any Dispatcher, including user-supplied ones.
 */
export function dispatcherRequest(
  dispatcher: Undici.Dispatcher,
  opts: Undici.Dispatcher.RequestOptions,
): Promise<Undici.Dispatcher.ResponseData> {
  return requestApi.call(dispatcher, opts);
}
