/**
 * Registry credential discovery. The order (documented in `docs/security.md`):
 * 1. the explicit `credentials` option;
 * 2. the files of `registryConfig` when given (oras's `--registry-config`), and nothing else; otherwise
 * 3. the containers auth files that `podman login`, `skopeo login` and `buildah login` write, in
 *    containers-auth.json(5)'s order: `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`
 *    (`/run/containers/<uid>/auth.json` without `XDG_RUNTIME_DIR`); then
 *    `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`;
 * 4. docker's `$DOCKER_CONFIG/config.json` or `~/.docker/config.json` (or the `dockerConfig` option);
 * 5. `~/.apptainer/docker-config.json` and `~/.singularity/docker-config.json` (the files
 *    `apptainer registry login` writes, and upstream Dragonfly reads).
 *
 * In each file: `credHelpers[host]`, then `credsStore`, then `auths` (a containers key may name a
 * namespace, `host/org`; the longest one that prefixes the repository wins over the bare host).
 * The first file with an answer wins. A malformed file is a {@link CredentialsError} naming the file
 * — never a crash, never the secret; a failing helper is a warning and the lookup goes on.
 *
 * @module
 */
import { requireBuiltin } from '../../internal/node-require.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CredentialsError } from '../../core/errors.js';
import { homeDirectory, xdgDirectory } from '../../internal/home-dir.js';
import type { CredentialsOption, RegistryCredential } from './options.js';
import { logAuth } from './log.js';
import { describeCredentialFile } from './credential-hints.js';

/** Where a credential came from (a file path, `docker-credential-<name>`, or `option`). Safe to log. */
export interface FoundCredential {
  readonly credential: RegistryCredential;
  readonly source: string;
  /** The source said for a person: what wrote it and where (`the docker config /home/u/.docker/config.json (docker login)`). */
  readonly from: string;
}

/** Inputs of {@link findCredential}. */
export interface CredentialLookupOptions {
  /** The explicit `credentials` option; wins over every file. */
  explicit?: CredentialsOption | undefined;
  /** How messages name the explicit credential. @defaultValue `'the credentials option'` */
  explicitSource?: string | undefined;
  /** The only files to read (oras's `--registry-config`): no default location is searched. */
  registryConfig?: readonly string[] | undefined;
  /** Docker config files to read instead of the default docker one (the other defaults stay). */
  dockerConfig?: readonly string[] | undefined;
  /** The repository asked for (`org/img`): picks namespaced containers keys (`host/org`). */
  repository?: string | undefined;
  /** Home directory. @defaultValue `$HOME` if absolute, else the passwd entry's; none: the home files are not read */
  homeDir?: string | undefined;
  /** Environment (`DOCKER_CONFIG`, `REGISTRY_AUTH_FILE`, `XDG_*`, `PATH`). @defaultValue `process.env` */
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

/** One credential file to read, and how to read its keys. */
export interface CredentialFile {
  readonly path: string;
  /** `containers`: keys may name a namespace (`host/org`); `docker`: a key's path is ignored, as docker does. */
  readonly format: 'containers' | 'docker';
}

/**
 * The files {@link findCredential} reads, in order, when no `registryConfig` is given (see the
 * module comment). Exported so that tools and tests can show the order.
 */
export function defaultCredentialFiles(
  o: Pick<CredentialLookupOptions, 'dockerConfig' | 'homeDir' | 'env'> = {},
): CredentialFile[] {
  const env = o.env ?? process.env;
  // No home (an arbitrary uid in a container): only the files named by the environment are read.
  const home = o.homeDir ?? homeDirectory(env);
  const files: CredentialFile[] = [];
  const primary = env['REGISTRY_AUTH_FILE']
    ? env['REGISTRY_AUTH_FILE']
    : env['XDG_RUNTIME_DIR']
      ? path.join(env['XDG_RUNTIME_DIR'], 'containers', 'auth.json')
      : process.getuid
        ? `/run/containers/${process.getuid()}/auth.json`
        : undefined;
  if (primary) files.push({ path: primary, format: 'containers' });
  const configHome = xdgDirectory(env, 'XDG_CONFIG_HOME') ?? (home && path.join(home, '.config'));
  const userFile = configHome && path.join(configHome, 'containers', 'auth.json');
  if (userFile && userFile !== primary) files.push({ path: userFile, format: 'containers' });
  const dockerDir = env['DOCKER_CONFIG'] || (home && path.join(home, '.docker'));
  const docker = o.dockerConfig ?? (dockerDir ? [path.join(dockerDir, 'config.json')] : []);
  for (const p of docker) files.push({ path: p, format: 'docker' });
  if (home) {
    for (const p of [
      path.join(home, '.apptainer', 'docker-config.json'),
      path.join(home, '.singularity', 'docker-config.json'),
    ])
      files.push({ path: p, format: 'docker' });
  }
  return files;
}

/**
 * Finds the credential for `registry` (`host[:port]`), or `undefined` for anonymous access.
 *
 * @throws CredentialsError (`ERR_ORASFLY_CREDENTIALS`) for an unreadable/malformed config file;
 * the message names the file, never the secret. A failing helper is reported to `onWarning`.
 */
export async function findCredential(
  registry: string,
  o: CredentialLookupOptions = {},
): Promise<FoundCredential | undefined> {
  if (o.explicit !== undefined) {
    const c = typeof o.explicit === 'function' ? await o.explicit(registry, { signal: o.signal }) : o.explicit;
    if (c !== undefined) return { credential: c, source: 'option', from: o.explicitSource ?? 'the credentials option' };
  }
  const env = o.env ?? process.env;
  // A file given by the user is read as containers-auth.json: a superset of docker's format.
  const files = o.registryConfig
    ? o.registryConfig.map((p): CredentialFile => ({ path: p, format: 'containers' }))
    : defaultCredentialFiles(o);
  for (const file of files) {
    const found = await fromConfigFile(file, registry, o, env, o.registryConfig !== undefined);
    if (found) return found;
  }
  logAuth('no credential for %s in %s', registry, files.map((f) => f.path).join(', ') || 'no file');
  return undefined;
}

async function readJsonObject(file: string, given: boolean): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // A default location may well not exist; a file the user named must (a typo would turn into
    // an anonymous pull and a puzzling 401).
    if ((code === 'ENOENT' || code === 'ENOTDIR') && !given) return undefined;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new CredentialsError(file, 'no such file (given as registryConfig, --registry-config)', { cause: e });
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
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new CredentialsError(file, 'expected a JSON object');
  return parsed as Record<string, unknown>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function fromConfigFile(
  f: CredentialFile,
  registry: string,
  o: CredentialLookupOptions,
  env: NodeJS.ProcessEnv,
  given: boolean,
): Promise<FoundCredential | undefined> {
  const file = f.path;
  const cfg = await readJsonObject(file, given);
  const from = describeCredentialFile(f, given);
  if (!cfg) return undefined;
  const credHelpers = cfg['credHelpers'];
  if (credHelpers !== undefined && !isObject(credHelpers))
    throw new CredentialsError(file, 'credHelpers must be an object');
  if (credHelpers) {
    for (const [key, name] of Object.entries(credHelpers)) {
      if (!hostMatches(key, registry)) continue;
      if (typeof name !== 'string')
        throw new CredentialsError(file, `credHelpers[${JSON.stringify(key)}] must be a string`);
      const c = await helperOrWarn(name, registry, o, env);
      if (c)
        return {
          credential: c,
          source: `docker-credential-${name}`,
          from: `the credential helper docker-credential-${name} (credHelpers of ${from})`,
        };
    }
  }
  const store = cfg['credsStore'];
  if (store !== undefined && typeof store !== 'string') throw new CredentialsError(file, 'credsStore must be a string');
  if (store) {
    const c = await helperOrWarn(store, registry, o, env);
    if (c)
      return {
        credential: c,
        source: `docker-credential-${store}`,
        from: `the credential helper docker-credential-${store} (credsStore of ${from})`,
      };
  }
  const auths = cfg['auths'];
  if (auths === undefined) return undefined;
  if (!isObject(auths)) throw new CredentialsError(file, 'auths must be an object');
  for (const key of matchingAuthKeys(Object.keys(auths), registry, f.format, o.repository)) {
    const entry = auths[key];
    const where = `auths[${JSON.stringify(key)}]`;
    if (!isObject(entry)) throw new CredentialsError(file, `${where} must be an object`);
    const c = entryCredential(entry, file, where);
    if (c) {
      logAuth('credential for %s from %s %s', registry, file, where);
      return { credential: c, source: file, from };
    }
  }
  return undefined;
}

/**
 * The `auths` keys that apply to `registry`/`repository`, best first. A containers key without a
 * scheme may name a namespace (`quay.io/org`): it applies only inside it, and the longest wins
 * (containers-auth.json(5)). A key with a scheme (`https://host/v1/`) names its host, as in docker.
 */
export function matchingAuthKeys(
  keys: readonly string[],
  registry: string,
  format: CredentialFile['format'],
  repository?: string,
): string[] {
  const scored: Array<[string, number]> = [];
  for (const key of keys) {
    const trimmed = key.trim();
    const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed);
    const slash = trimmed.indexOf('/');
    if (format === 'containers' && !hasScheme && slash > 0) {
      if (!hostMatches(trimmed.slice(0, slash), registry)) continue;
      const ns = trimmed.slice(slash + 1).replace(/\/+$/, '');
      if (repository === undefined || !(repository === ns || repository.startsWith(`${ns}/`))) continue;
      scored.push([key, 2 + ns.length]);
    } else if (hostMatches(key, registry)) {
      // Exact keys before normalised ones (`https://host`, `index.docker.io/v1/`).
      scored.push([key, key === registry ? 1 : 0]);
    }
  }
  return scored.sort((a, b) => b[1] - a[1]).map(([k]) => k);
}

/** A helper run whose failure is a warning, not the end of the lookup. */
async function helperOrWarn(
  name: string,
  registry: string,
  o: CredentialLookupOptions,
  env: NodeJS.ProcessEnv,
): Promise<RegistryCredential | undefined> {
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
    if (entry[f] !== undefined && typeof entry[f] !== 'string')
      throw new CredentialsError(file, `${where}.${f} must be a string`);
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
export async function runCredentialHelper(
  name: string,
  serverUrl: string,
  o: Pick<CredentialLookupOptions, 'helperTimeout' | 'signal'> = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<RegistryCredential | undefined> {
  const program = `docker-credential-${name}`;
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new CredentialsError(program, 'invalid helper name');
  // From PATH's absolute directories only (as Go's exec.LookPath refuses "."): an empty or relative
  // entry would run whatever file of that name lies in the directory the command runs in.
  const file = process.platform === 'win32' ? program : findOnPath(program, env);
  if (file === undefined) throw new CredentialsError(program, 'get failed: not found on PATH');
  const { stdout, code, error } = await new Promise<{
    stdout: string;
    code: number | null;
    error: (Error & { code?: unknown; killed?: boolean }) | null;
  }>((resolve) => {
    const { execFile } = requireBuiltin<typeof import('node:child_process')>('node:child_process');
    const child = execFile(
      file,
      ['get'],
      {
        timeout: o.helperTimeout ?? 10_000,
        // A helper that ignores SIGTERM must not outlive its timeout.
        killSignal: 'SIGKILL',
        env,
        signal: o.signal,
        maxBuffer: 1024 * 1024,
        windowsHide: true,
      },
      (err, out) => {
        resolve({ stdout: String(out), code: err ? (typeof err.code === 'number' ? err.code : null) : 0, error: err });
      },
    );
    child.stdin?.on('error', () => {});
    child.stdin?.end(serverUrl);
  });
  if (o.signal?.aborted) throw o.signal.reason;
  if (error) {
    if (/credentials not found/i.test(stdout)) return undefined;
    const why =
      error.code === 'ENOENT'
        ? 'not found on PATH'
        : error.killed
          ? 'timed out or was killed'
          : `exited with ${String(code)}`;
    // Never include the helper's output: it may hold the secret.
    throw new CredentialsError(program, `get failed: ${why}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new CredentialsError(program, 'printed invalid JSON');
  }
  if (
    !isObject(parsed) ||
    typeof parsed['Secret'] !== 'string' ||
    (parsed['Username'] !== undefined && typeof parsed['Username'] !== 'string')
  )
    throw new CredentialsError(program, 'expected {"Username","Secret"}');
  const username = (parsed['Username'] as string | undefined) ?? '';
  const secret = parsed['Secret'] as string;
  if (secret === '') return undefined;
  // docker's convention: user name "<token>" means the secret is an identity token.
  if (username === '<token>') return { identityToken: secret };
  return { username, password: secret };
}

/** `program` in one of `env.PATH`'s absolute directories, as an executable regular file. */
function findOnPath(program: string, env: NodeJS.ProcessEnv): string | undefined {
  const { accessSync, constants, statSync } = requireBuiltin<typeof import('node:fs')>('node:fs');
  for (const dir of (env['PATH'] ?? '').split(path.delimiter)) {
    if (!path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, program);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
