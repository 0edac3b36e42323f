/**
 * Registry credential discovery, in order: the explicit option; docker config
 * (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`: `credHelpers[host]`, then `credsStore`,
 * then `auths[host]`); then `~/.apptainer/docker-config.json` and `~/.singularity/docker-config.json`
 * (the file upstream Dragonfly reads). A malformed file is a {@link CredentialsError} naming the
 * file — never a crash, never the secret.
 *
 * @module
 */
import { requireBuiltin } from '../../internal/node-require.js';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { CredentialsError } from '../../errors.js';
import type { CredentialsOption, RegistryCredential } from './options.js';
import { logAuth } from './log.js';

/** Where a credential came from (a file path, `docker-credential-<name>`, or `option`). Safe to log. */
export interface FoundCredential {
  readonly credential: RegistryCredential;
  readonly source: string;
}

/** Inputs of {@link findCredential}. */
export interface CredentialLookupOptions {
  /** The explicit `credentials` option; wins over every file. */
  explicit?: CredentialsOption | undefined;
  /** Docker config files to read instead of the default one. */
  dockerConfig?: readonly string[] | undefined;
  /** Home directory. @defaultValue `os.homedir()` */
  homeDir?: string | undefined;
  /** Environment (for `DOCKER_CONFIG` and `PATH`). @defaultValue `process.env` */
  env?: NodeJS.ProcessEnv | undefined;
  /** Timeout of one credential-helper run in ms. @defaultValue 10000 */
  helperTimeout?: number | undefined;
  signal?: AbortSignal | undefined;
  /**
   * A credential helper that failed (a `credsStore: desktop` copied from a laptop). The lookup then
   * goes on with `auths` and the other files, and may end anonymous; the failure is reported here.
   */
  onWarning?: ((message: string) => void) | undefined;
}

const DOCKER_HUB_KEYS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** Normalises a docker config `auths` key (`https://host/v1/`, `host`) to `host[:port]`, as docker's `ConvertToHostname`. */
export function configKeyToHost(key: string): string {
  let s = key.trim();
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = s.indexOf('/');
  if (slash >= 0) s = s.slice(0, slash);
  return s.toLowerCase();
}

function hostMatches(key: string, registry: string): boolean {
  const k = configKeyToHost(key);
  const r = registry.toLowerCase();
  if (k === r) return true;
  return DOCKER_HUB_KEYS.has(k) && DOCKER_HUB_KEYS.has(r);
}

/** The server URL a credential helper expects for `registry` (docker hub keeps its legacy URL). */
function helperServerUrl(registry: string): string {
  return DOCKER_HUB_KEYS.has(registry.toLowerCase()) ? 'https://index.docker.io/v1/' : registry;
}

/**
 * Finds the credential for `registry` (`host[:port]`), or `undefined` for anonymous access.
 *
 * @throws CredentialsError (`ERR_ORASFLY_CREDENTIALS`) for an unreadable/malformed config file or
 * a failing credential helper; the message names the file or helper, never the secret.
 */
export async function findCredential(registry: string, o: CredentialLookupOptions = {}): Promise<FoundCredential | undefined> {
  if (o.explicit !== undefined) {
    const c = typeof o.explicit === 'function' ? await o.explicit(registry, { signal: o.signal }) : o.explicit;
    if (c !== undefined) return { credential: c, source: 'option' };
  }
  const env = o.env ?? process.env;
  const home = o.homeDir ?? homedir();
  const dockerFiles = o.dockerConfig ?? [env['DOCKER_CONFIG'] ? path.join(env['DOCKER_CONFIG'], 'config.json') : path.join(home, '.docker', 'config.json')];
  for (const file of dockerFiles) {
    const found = await fromConfigFile(file, registry, true, o, env);
    if (found) return found;
  }
  for (const file of [path.join(home, '.apptainer', 'docker-config.json'), path.join(home, '.singularity', 'docker-config.json')]) {
    const found = await fromConfigFile(file, registry, false, o, env);
    if (found) return found;
  }
  return undefined;
}

async function readJsonObject(file: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new CredentialsError(file, `cannot read: ${code ?? 'error'}`, { cause: e });
  }
  if (text.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // No cause: a JSON SyntaxError quotes a piece of the file, which may be a secret.
    throw new CredentialsError(file, 'not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CredentialsError(file, 'expected a JSON object');
  return parsed as Record<string, unknown>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function fromConfigFile(file: string, registry: string, helpers: boolean, o: CredentialLookupOptions, env: NodeJS.ProcessEnv): Promise<FoundCredential | undefined> {
  const cfg = await readJsonObject(file);
  if (!cfg) return undefined;
  if (helpers) {
    const credHelpers = cfg['credHelpers'];
    if (credHelpers !== undefined && !isObject(credHelpers)) throw new CredentialsError(file, 'credHelpers must be an object');
    if (credHelpers) {
      for (const [key, name] of Object.entries(credHelpers)) {
        if (!hostMatches(key, registry)) continue;
        if (typeof name !== 'string') throw new CredentialsError(file, `credHelpers[${JSON.stringify(key)}] must be a string`);
        const c = await helperOrWarn(name, registry, o, env);
        if (c) return { credential: c, source: `docker-credential-${name}` };
      }
    }
    const store = cfg['credsStore'];
    if (store !== undefined && typeof store !== 'string') throw new CredentialsError(file, 'credsStore must be a string');
    if (store) {
      const c = await helperOrWarn(store, registry, o, env);
      if (c) return { credential: c, source: `docker-credential-${store}` };
    }
  }
  const auths = cfg['auths'];
  if (auths === undefined) return undefined;
  if (!isObject(auths)) throw new CredentialsError(file, 'auths must be an object');
  // Exact keys first, then normalised ones (`https://host`, `http://host`, `index.docker.io/v1/`).
  const keys = Object.keys(auths).sort((a, b) => Number(b === registry) - Number(a === registry));
  for (const key of keys) {
    if (!hostMatches(key, registry)) continue;
    const entry = auths[key];
    const where = `auths[${JSON.stringify(key)}]`;
    if (!isObject(entry)) throw new CredentialsError(file, `${where} must be an object`);
    const c = entryCredential(entry, file, where);
    if (c) {
      logAuth('credential for %s from %s %s', registry, file, where);
      return { credential: c, source: file };
    }
  }
  return undefined;
}

/** A helper run whose failure is a warning, not the end of the lookup. */
async function helperOrWarn(name: string, registry: string, o: CredentialLookupOptions, env: NodeJS.ProcessEnv): Promise<RegistryCredential | undefined> {
  try {
    return await runCredentialHelper(name, helperServerUrl(registry), o, env);
  } catch (e) {
    if (o.signal?.aborted || !(e instanceof CredentialsError)) throw e;
    logAuth('credential helper for %s failed: %s', registry, e.message);
    o.onWarning?.(e.message);
    return undefined;
  }
}

function entryCredential(entry: Record<string, unknown>, file: string, where: string): RegistryCredential | undefined {
  for (const f of ['auth', 'username', 'password', 'identitytoken', 'registrytoken']) {
    if (entry[f] !== undefined && typeof entry[f] !== 'string') throw new CredentialsError(file, `${where}.${f} must be a string`);
  }
  const identity = entry['identitytoken'] as string | undefined;
  if (identity) return { identityToken: identity };
  const registryToken = entry['registrytoken'] as string | undefined;
  if (registryToken) return { token: registryToken };
  const auth = entry['auth'] as string | undefined;
  if (auth) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(auth.trim())) throw new CredentialsError(file, `${where}.auth is not base64`);
    const decoded = Buffer.from(auth.trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new CredentialsError(file, `${where}.auth does not decode to "user:password"`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  const username = entry['username'] as string | undefined;
  const password = entry['password'] as string | undefined;
  if (username && password !== undefined) return { username, password };
  return undefined;
}

/**
 * Runs `docker-credential-<name> get` with the server URL on stdin (docker's credential-helper
 * protocol). "Not found" answers yield `undefined`.
 *
 * @throws CredentialsError (`ERR_ORASFLY_CREDENTIALS`) when the helper is missing, times out, fails
 * or prints something other than `{"Username","Secret"}`.
 */
export async function runCredentialHelper(name: string, serverUrl: string, o: Pick<CredentialLookupOptions, 'helperTimeout' | 'signal'> = {}, env: NodeJS.ProcessEnv = process.env): Promise<RegistryCredential | undefined> {
  const program = `docker-credential-${name}`;
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new CredentialsError(program, 'invalid helper name');
  const { stdout, code, error } = await new Promise<{ stdout: string; code: number | null; error: (Error & { code?: unknown; killed?: boolean }) | null }>((resolve) => {
    const { execFile } = requireBuiltin<typeof import('node:child_process')>('node:child_process');
    const child = execFile(program, ['get'], { timeout: o.helperTimeout ?? 10_000, env, signal: o.signal, maxBuffer: 1024 * 1024, windowsHide: true }, (err, out) => {
      resolve({ stdout: String(out), code: err ? (typeof err.code === 'number' ? err.code : null) : 0, error: err });
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(serverUrl);
  });
  if (o.signal?.aborted) throw o.signal.reason;
  if (error) {
    if (/credentials not found/i.test(stdout)) return undefined;
    const why = error.code === 'ENOENT' ? 'not found on PATH' : error.killed ? 'timed out or was killed' : `exited with ${String(code)}`;
    // Never include the helper's output: it may hold the secret.
    throw new CredentialsError(program, `get failed: ${why}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new CredentialsError(program, 'printed invalid JSON');
  }
  if (!isObject(parsed) || typeof parsed['Secret'] !== 'string' || (parsed['Username'] !== undefined && typeof parsed['Username'] !== 'string'))
    throw new CredentialsError(program, 'expected {"Username","Secret"}');
  const username = (parsed['Username'] as string | undefined) ?? '';
  const secret = parsed['Secret'] as string;
  if (secret === '') return undefined;
  // docker's convention: user name "<token>" means the secret is an identity token.
  if (username === '<token>') return { identityToken: secret };
  return { username, password: secret };
}
