/**
 * The shapes of the hostile registry (see `../hostile-registry.ts`): what a scenario is and what a
 * running registry offers (public), and what the scenario groups and the server share (a request's
 * context, a handler, a scenario's definition, the per-start secrets).
 *
 * @module
 */
import type http from 'node:http';
import type { Artifact } from './content.js';

/** Which part of a pull a scenario attacks. `config` scenarios attack the `dfget.yaml` loader. */
export type HostileArea = 'manifest' | 'blob' | 'auth' | 'headers' | 'config';

/** One hostile scenario: the repository `hostile/<name>`, tag `t`. Pulling it must fail cleanly. */
export interface HostileScenario {
  /** Repository `hostile/<name>`. */
  readonly name: string;
  readonly area: HostileArea;
  /** What the registry does wrong. */
  readonly description: string;
  /** The `ERR_ORASFLY_*` code(s) a correct client reports; unset: any `ERR_ORASFLY_*` code. */
  readonly expectCode?: RegExp;
  /** What the error message must say, when that matters. */
  readonly expectMessage?: RegExp;
  /** Extra CLI arguments. */
  readonly args?: readonly string[];
  /**
   * `dfget.yaml` text for the pull (short timeouts, small pieces). For `config` scenarios it is
   * the whole hostile file; their repository serves a good artifact, so accepting the file makes
   * the pull succeed.
   */
  readonly config?: string;
  /** Values that must never appear in any output or log. */
  readonly secrets?: readonly string[];
  /** Extra environment for the client (e.g. `DOCKER_CONFIG` with credentials for this registry). */
  readonly env?: Readonly<Record<string, string>>;
  /** The failure must be reported within this many ms (a client that waits on the server fails). */
  readonly maxMs?: number;
}

/** One request seen by the hostile registry, logged when it arrives. Never holds credentials. */
export interface HostileRequestLog {
  /** The scenario named by the path, if any. */
  readonly scenario: string | undefined;
  readonly kind: 'ping' | 'manifest' | 'blob' | 'token' | 'unknown';
  readonly method: string;
  /** Path and query as sent. */
  readonly path: string;
  readonly range: string | undefined;
  /** Whether an `Authorization` header was sent (its value is never logged). */
  readonly authorized: boolean;
}

/** A running hostile registry; see {@link startHostileRegistry}. */
export interface HostileRegistry {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  /** `127.0.0.1:PORT` */
  readonly host: string;
  /** `oras://127.0.0.1:PORT/hostile/<scenario>:t` (also for `'good'`). */
  ref(scenario: string): string;
  readonly scenarios: readonly HostileScenario[];
  /** The control artifact `hostile/good:t`: a 3 MiB SIF layer served correctly. */
  readonly good: { readonly name: 'good'; readonly ref: string; readonly digest: string; readonly size: number };
  /** Appended as requests arrive. */
  readonly requests: HostileRequestLog[];
  /** Destroys open connections, stops timers, removes the temp dir (docker config). Idempotent. */
  close(): Promise<void>;
}

/** One request to a scenario, with what the handlers need. */
export interface Ctx {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly name: string;
  /** Manifest reference, blob digest, or the token path's rest. */
  readonly ref: string;
  readonly url: URL;
  readonly origin: string;
  readonly a: Artifact;
  /** Per-scenario counters (requests served, bytes sent, …). */
  readonly state: Record<string, number>;
  /** Registers a timer cleared on close. */
  every(ms: number, fn: () => void): NodeJS.Timeout;
}

export type Handler = (c: Ctx) => void;

export interface Def extends HostileScenario {
  /** Size of the scenario's own blob. @defaultValue 64 KiB */
  readonly blobSize?: number;
  readonly manifest?: Handler;
  readonly blob?: Handler;
  readonly token?: Handler;
}

/** The per-start credentials and token of the secret-echo scenarios, and the docker config that holds them. */
export interface Secrets {
  username: string;
  password: string;
  basic: string;
  token: string;
  dockerConfigDir: string;
}

/** `dfget.yaml` text with short metadata timeouts, for scenarios whose server never answers. */
export const SHORT_METADATA = 'oras:\n  responseHeaderTimeout: 1s\n  metadataTimeout: 3s\n';
/** An `expectCode`: any of these `ERR_ORASFLY_*` names. */
export const code = (...names: string[]): RegExp => new RegExp(`^ERR_ORASFLY_(?:${names.join('|')})$`);
