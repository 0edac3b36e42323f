/**
 * Loads just the parts of undici a registry client uses. `import 'undici'` evaluates all of it
 * (fetch, WebSocket, cache, mocks: ~100 ms on this class of machine); the agent, connector and
 * request API take ~40 ms, which is a large share of a reuse pull's start-up. undici has no
 * `exports` map, so these paths are reachable; they have been stable since undici 6, and the
 * integration tests exercise every one of them. Proxy agents, needed only with a proxy, are
 * loaded on demand.
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

// undici parses HTTP with a WebAssembly build of llhttp. V8 re-optimises hot WebAssembly
// functions on a background thread, and Node waits for those jobs before a process can end —
// ~150 ms after the last byte of a short-lived process (a reuse pull, a CLI run). While undici
// instantiates its parser (on its first connection) we raise V8's tiering budget so the parser
// stays on the baseline compiler, which is plenty for header parsing; the flag is restored as soon
// as a response has arrived, so WebAssembly the host compiles later tiers up as usual. A budget
// the user set on the command line is left alone. The flag is process-wide while it is raised, so
// WebAssembly the host compiles during that first request also stays on the baseline tier.
const DEFAULT_TIERING_BUDGET = 1_800_000; // V8's default (node --v8-options)
// V8 accepts `--wasm-tiering-budget` and `--wasm_tiering_budget`; Node rejects it in NODE_OPTIONS.
const userSetBudget = process.execArgv.some((a) => a.replaceAll('_', '-').includes('wasm-tiering-budget'));
let parserPinned = userSetBudget;

function pinParserTier(): boolean {
  if (parserPinned) return false;
  parserPinned = true;
  (require('node:v8') as typeof import('node:v8')).setFlagsFromString('--wasm-tiering-budget=2000000000');
  return true;
}

function unpinParserTier(): void {
  (require('node:v8') as typeof import('node:v8')).setFlagsFromString(`--wasm-tiering-budget=${DEFAULT_TIERING_BUDGET}`);
}

/**
 * `dispatcher.request(opts)` without needing undici's prototype patching (which only the package
 * entry point performs). Works with any Dispatcher, including user-supplied ones.
 */
export async function dispatcherRequest(dispatcher: Undici.Dispatcher, opts: Undici.Dispatcher.RequestOptions): Promise<Undici.Dispatcher.ResponseData> {
  const pinned = pinParserTier();
  try {
    const res = await requestApi.call(dispatcher, opts);
    if (pinned) unpinParserTier();
    return res;
  } catch (e) {
    // No response, maybe no connection yet: the parser may still be instantiated by a later request.
    if (pinned) {
      unpinParserTier();
      parserPinned = userSetBudget;
    }
    throw e;
  }
}
