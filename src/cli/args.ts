/**
 * dfget-compatible command-line flags, parsed and validated with dfget's error texts.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { takeBooleanValues } from './bool-flags.js';
import { InvalidArgumentError } from '../core/errors.js';
import { parseDuration, parseSize } from '../core/units.js';
import { quote } from '../core/describe.js';
import { parsePlatform } from '../source/oras/platform.js';

/** Parsed command line. */
export interface CliArgs {
  url: string;
  output: string;
  timeout: number | undefined;
  digest: string | undefined;
  tag: string | undefined;
  filter: string | undefined;
  headers: Record<string, string>;
  console: boolean;
  /** `-b`: a progress bar on a terminal even with `--json`. */
  showProgress: boolean;
  /** `--no-progress`: no bar and no progress lines. */
  noProgress: boolean;
  config: string | undefined;
  workHome: string | undefined;
  dataDir: string | undefined;
  logDir: string | undefined;
  rateLimit: number | undefined;
  application: string | undefined;
  concurrency: number | undefined;
  /** `undefined` when not given: `--insecure=false` switches off a config file's `true`. */
  insecure: boolean | undefined;
  caFile: string | undefined;
  plainHttp: boolean | undefined;
  /** `--tag-cache-ttl D`: trust a tag's last-seen manifest this long (ms; 0 = ask every time); the flag takes a unit (`60s`). */
  tagCacheTtl: number | undefined;
  /** `os/arch[/variant]` to pick from an image index. */
  platform: { os: string; architecture: string; variant?: string | undefined } | undefined;
  /** `--registry-config FILE`: the only credential files read (oras). */
  registryConfig: string[] | undefined;
  /** `--username`: with `--password-stdin`, the credential for the reference's registry. */
  username: string | undefined;
  /** `--password-stdin`: read the password (or, with no user name, an identity token) from stdin. */
  passwordStdin: boolean;
  /** `--all-layers`: every titled layer into the `-O` directory. */
  allLayers: boolean;
  /** `--endpoint PATH`: the dfdaemon socket (selects the daemon transport). */
  endpoint: string | undefined;
  /** `--proxy-transport URL`: the dfdaemon HTTP proxy. */
  proxyTransport: string | undefined;
  /** `--disable-back-to-source`. */
  disableBackToSource: boolean;
  /** The layer to pull when the manifest has no single SIF layer. */
  layerIndex: number | undefined;
  layerMediaType: string | undefined;
  json: boolean;
  help: boolean;
  version: boolean;
}

const OPTIONS = {
  url: { type: 'string', short: 'u' },
  output: { type: 'string', short: 'O' },
  timeout: { type: 'string' },
  digest: { type: 'string' },
  tag: { type: 'string' },
  filter: { type: 'string', short: 'f' },
  header: { type: 'string', short: 'H', multiple: true },
  console: { type: 'boolean' },
  'show-progress': { type: 'boolean', short: 'b' },
  'no-progress': { type: 'boolean' },
  config: { type: 'string' },
  workhome: { type: 'string' },
  datadir: { type: 'string' },
  cachedir: { type: 'string' },
  logdir: { type: 'string' },
  ratelimit: { type: 'string' },
  application: { type: 'string' },
  concurrency: { type: 'string' },
  insecure: { type: 'boolean' },
  'ca-file': { type: 'string' },
  'plain-http': { type: 'boolean' },
  'tag-cache-ttl': { type: 'string' },
  platform: { type: 'string' },
  'registry-config': { type: 'string', multiple: true },
  username: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  'all-layers': { type: 'boolean' },
  endpoint: { type: 'string' },
  'proxy-transport': { type: 'string' },
  'disable-back-to-source': { type: 'boolean' },
  'layer-index': { type: 'string' },
  'layer-media-type': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

/** The long names of the boolean flags, which also take pflag's `=true` / `=false`. */
const BOOLEAN_FLAGS: ReadonlySet<string> = new Set(
  Object.entries(OPTIONS)
    .filter(([, o]) => o.type === 'boolean')
    .map(([name]) => name),
);

/** The `--help` text. */
export const USAGE = `Usage: orasfly [pull] [-u] oras://HOST/REPO:TAG [-O PATH] [flags]
       orasfly pull [PATH] oras://HOST/REPO:TAG   (Apptainer's order)
       orasfly version

Download an OCI artifact (oras://host[:port]/repo:tag or …@sha256:<hex>) with verified pieces,
keeping it in a local task store so later requests are served by a hard link.

dfget flags:
  -u, --url URL             URL to download (or the first argument)
  -O, --output PATH         destination file; PATH/ (a directory): the layer's title in it
                            (default: NAME_TAG.sif in the current directory, as Apptainer)
      --timeout DURATION    give up after this long, e.g. 30m (default: none)
      --digest ALG:HEX      expected blob digest; a mismatch fails before downloading
      --tag TAG             different tags make different tasks
  -f, --filter "k1&k2"      query keys left out of the task id
  -H, --header "K: V"       extra request header (repeatable)
      --console             print JSON log lines to the terminal
  -b, --show-progress       show a progress bar (the default on a terminal, except with --json)
      --no-progress         no progress bar, and no progress lines when stderr is not a terminal
      --config FILE         dfget.yaml (default: /etc/dragonfly/dfget.yaml as root, else
                            $XDG_CONFIG_HOME/orasfly/dfget.yaml, when present)
      --workhome DIR        accepted for dfget compatibility; orasfly writes nothing there
      --datadir DIR         task store (default: /var/lib/dragonfly as root, else
                            $XDG_DATA_HOME/orasfly); --cachedir is the same flag
      --logdir DIR          logs; core.log goes to DIR/dfget/ (default: /var/log/dragonfly as root,
                            else $XDG_STATE_HOME/orasfly/logs)
      --ratelimit SIZE      bytes per second across all pieces, e.g. 200Mi (default: unlimited;
                            0 lifts a config file's limit)
      --application NAME    caller's application name (part of the task id)
      --endpoint PATH       download through the Dragonfly daemon on this unix socket
                            (e.g. /var/run/dragonfly/dfdaemon.sock); the origin is the fallback
      --disable-back-to-source
                            never fetch from the origin: what the cluster cannot serve fails
cache commands (see 'orasfly cache --help'):
  orasfly cache list | verify [--dry-run] | gc [--dry-run] | clean [--dry-run] [REF|DIGEST ...]

orasfly flags:
      --concurrency N       connections, fixed (default: found from the link, 1 to 8)
      --insecure            do not verify TLS certificates
      --ca-file FILE        extra CA certificates (PEM)
      --plain-http          talk plain HTTP to the registry
      --tag-cache-ttl D     trust a tag's last-seen manifest for D (e.g. 60s) without asking
                            the registry; a moved tag is seen only after D (default 0: ask,
                            with a HEAD when the manifest is known)
      --platform OS/ARCH[/VARIANT]
                            the manifest to pick from an image index (default: this machine's)
      --layer-index N       the layer to pull when there is no single SIF layer (-1 = the last)
      --layer-media-type T  the layer to pull, by media type
      --all-layers          pull every titled layer into the -O directory (as oras pull),
                            each under its org.opencontainers.image.title
      --proxy-transport URL pieces through the Dragonfly daemon's HTTP proxy (http://127.0.0.1:4001)
      --registry-config FILE
                            the only credential file to read (docker or containers format;
                            repeatable; default: see ENVIRONMENT)
      --username USER       user name for the registry; the password comes from --password-stdin
      --password-stdin      read the password from stdin (never from argv); without --username
                            stdin holds an identity token
      --json                print one JSON result object instead of dfget's lines
  -h, --help                this help
  -v, --version             print the version

Examples:
  orasfly oras://registry.example.com/lab/solver:v2 -O solver.sif
  orasfly -u oras://127.0.0.1:5000/lab/solver@sha256:<hex> -O /scratch/solver.sif --json
  orasfly oras://quay.io/org/img:v1 -O img.sif --platform linux/arm64
  printf '%s' "$TOKEN" | orasfly oras://ghcr.io/org/img:v1 -O img.sif --username me --password-stdin
  orasfly oras://127.0.0.1:5000/lab/bundle:v1 -O bundle/ --all-layers
  orasfly cache list

Environment:
  DEBUG=orasfly:*           debug logs on stderr (orasfly:source, orasfly:auth, orasfly:conductor, …)
  REGISTRY_AUTH_FILE        containers auth file (podman/skopeo/buildah login), read first; then
                            $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json,
  DOCKER_CONFIG             the directory of docker's config.json (default ~/.docker), then
                            ~/.apptainer/docker-config.json
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY
                            proxy for registry requests (NO_PROXY hosts go direct)
  SSL_CERT_FILE, SSL_CERT_DIR
                            the system CA bundle trusted (default: the distribution's bundle)
  NODE_EXTRA_CA_CERTS       more CA certificates (PEM), as for any Node program
`;

function requireInt(value: string, field: string, min: number, max: number): number {
  // Digits only: Number() also takes "", " 3 ", "0x4" and "2.0".
  const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max)
    throw new InvalidArgumentError(field, `expected an integer ${min}..${max}, got ${quote(value)}`);
  return n;
}

/**
 * A duration flag (`--timeout`, `--tag-cache-ttl`) takes a unit, as dfget's `--timeout` does: a
 * bare number was read as milliseconds, so `--timeout 30` gave up after 30 ms.
 */
function durationFlag(value: string, field: string): number {
  const hint = 'write e.g. 30s, 5m or 1h30m';
  // Zero needs no unit (as in Go's time.ParseDuration, which dfget's flags use).
  if (/^\s*0\s*$/.test(value)) return 0;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) throw new InvalidArgumentError(field, `${quote(value)} has no unit; ${hint}`);
  try {
    return parseDuration(value, field);
  } catch {
    throw new InvalidArgumentError(field, `${quote(value)} is not a duration; ${hint}`);
  }
}

/** Flags that name a file or a directory: an empty value (an unset shell variable) is refused, not taken as "unset". */
const PATH_FLAGS = [
  'output',
  'config',
  'workhome',
  'datadir',
  'cachedir',
  'logdir',
  'ca-file',
  'registry-config',
  'endpoint',
  'proxy-transport',
] as const;

/**
 * Refuses a path flag given an empty value (an unset shell variable), which would otherwise read as
 * "not given" and mean the default. The command's and `orasfly cache`'s flags alike.
 *
 * @throws InvalidArgumentError naming the flag.
 */
export function refuseEmptyPaths(values: Readonly<Record<string, unknown>>, names: readonly string[]): void {
  for (const name of names) {
    const given = values[name];
    if (given === '' || (Array.isArray(given) && given.includes('')))
      throw new InvalidArgumentError(name, `--${name} is empty (an unset variable?); give a path`);
  }
}

/**
 * What of a user's text may be echoed in an error: a reference without the `user:password@` that
 * a mistyped one may carry before its host, and a header's name, never its value.
 */
function echoReference(url: string): string {
  return url.replace(/^((?:[a-z][a-z0-9+.-]*:\/\/)?)[^/@\s]*@/i, '$1<credentials>@');
}

/** Node's `parseArgs` texts, said shortly, with the closest flag of `options` for a typo. */
export function friendlyParseError(
  e: Error & { code?: string },
  options: Readonly<Record<string, { type: string; short?: string }>> = OPTIONS,
): string {
  const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(e.message);
  if (unknown && /^-[^-]$/.test(unknown[1]!)) {
    // A short flag of the other case (oras's and curl's -o for dfget's -O).
    const [name, o] =
      Object.entries(options).find(([, o]) => o.short?.toLowerCase() === unknown[1]![1]!.toLowerCase()) ?? [];
    return `unknown flag ${unknown[1]}${o?.short ? ` (did you mean -${o.short}, --${name}?)` : ''}`;
  }
  if (unknown) {
    const given = unknown[1]!.replace(/^-+/, '');
    const names = Object.keys(options);
    const best = names.map((n) => [n, editDistance(given, n)] as const).sort((x, y) => x[1] - y[1])[0];
    const hint = best && best[1] <= Math.max(2, Math.floor(given.length / 3)) ? ` (did you mean --${best[0]}?)` : '';
    return `unknown flag ${unknown[1]}${hint}`;
  }
  const missing = /Option '(-[^']+)' argument missing/.exec(e.message);
  if (missing) return `${missing[1]!.replace(/^-\w, /, '').replace(/ <value>$/, '')} needs a value`;
  // Node's longer texts go on with advice about `--`: the first sentence says what is wrong.
  return e.message.split(/\.\s/)[0] ?? e.message;
}

/** Levenshtein distance (flag names are short). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** Splits `K: V` at the first colon, as dfget does. */
export function parseHeader(h: string): [string, string] {
  const i = h.indexOf(':');
  const k = i < 0 ? '' : h.slice(0, i).trim();
  const v = i < 0 ? '' : h.slice(i + 1).trim();
  if (!k || !v) {
    // Echo the name only: a header given without its colon may be all secret (`PRIVATE-TOKEN glpat-…`).
    const name = (/^[^:\s]*/.exec(h)?.[0] ?? '').slice(0, 64);
    throw new InvalidArgumentError(
      'header',
      `header format error: ${quote(name + (h.length > name.length ? ' …' : ''))} (write "Name: value")`,
    );
  }
  return [k, v];
}

/**
 * Default output name, as Apptainer's: `NAME_TAG.sif` in the cwd (`lolcow_latest.sif` for
 * `oras://host/lab/lolcow:latest` or `…/lolcow`; `lolcow_<12 hex of the digest>.sif` for
 * `…/lolcow@sha256:…`). dfget's last path segment (`lolcow:latest`) has a colon, which breaks
 * `scp`, `rsync` and Makefiles, and no extension.
 */
export function defaultOutput(url: string, cwd = process.cwd()): string {
  const noQuery = url.split(/[?#]/)[0] ?? '';
  const afterScheme = noQuery.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const seg = afterScheme.split('/').filter(Boolean).slice(1).pop();
  if (!seg)
    throw new InvalidArgumentError('output', `cannot derive an output name from ${quote(echoReference(url))}; pass -O`);
  const [nameTag = '', digest] = seg.split('@');
  const [name = '', tag] = nameTag.split(':');
  const suffix = tag ?? (digest ? digest.replace(/^[^:]*:/, '').slice(0, 12) : 'latest');
  return path.resolve(cwd, `${name}_${suffix}.sif`.replace(/[^A-Za-z0-9._-]/g, '_'));
}

/** The hint for a reference written without its scheme (`host/repo:tag`, as docker and podman take it). */
function schemeHint(url: string): string {
  if (/^[a-z0-9.-]+(:\d+)?\/\S+$/i.test(url)) return `; did you mean oras://${echoReference(url)}?`;
  return '; write oras://host/repo:tag';
}

/**
 * `--layer-index -1`: node's parser takes `-1` for a flag, so a negative number after a flag that
 * wants a value is joined to it (`--layer-index=-1`), as the help and the error texts suggest it.
 */
function joinNegativeValues(argv: readonly string[]): string[] {
  const wantsValue = new Set<string>();
  for (const [name, o] of Object.entries(OPTIONS))
    if (o.type === 'string') {
      wantsValue.add(`--${name}`);
      if ('short' in o) wantsValue.add(`-${o.short}`);
    }
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (wantsValue.has(a) && next !== undefined && /^-\d+$/.test(next)) {
      // `--flag=-1`, and `-O-1` for a short flag (node reads `-O=-1` as the value `=-1`).
      out.push(a.startsWith('--') ? `${a}=${next}` : `${a}${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * Parses argv (without `node` and the script).
 *
 * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) with dfget's messages.
 */
export function parseCliArgs(argv: string[], cwd = process.cwd()): CliArgs {
  // A password in argv is visible to every user of the machine (ps, /proc): refuse it by name.
  const pw = argv.find((a) => /^--password(=|$)/.test(a) || a === '-p');
  if (pw)
    throw new InvalidArgumentError(
      'password',
      'passwords are not taken from the command line (other users can read argv); pipe it to --password-stdin',
    );
  // `orasfly version` and `orasfly pull …`: the habits of oras and Apptainer, whose commands come first.
  const command = argv[0] === 'version' || argv[0] === 'pull' ? argv[0] : undefined;
  const taken = takeBooleanValues(joinNegativeValues(command ? argv.slice(1) : argv), BOOLEAN_FLAGS);
  let parsed;
  try {
    parsed = parseArgs({ args: taken.argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new InvalidArgumentError('arguments', friendlyParseError(e as Error & { code?: string }));
  }
  // pflag's `--flag=false`: the last occurrence of a boolean flag decides.
  const v = { ...parsed.values, ...Object.fromEntries(taken.last) } as typeof parsed.values;
  const help = v.help ?? false;
  const version = (v.version ?? false) || command === 'version';
  const positionals = [...parsed.positionals];
  // `apptainer pull [OUTPUT] URI`: with `pull`, a positional before the reference is the output.
  let pulledTo: string | undefined;
  if (command === 'pull' && positionals.length === 2 && !v.url && /^[a-z][a-z0-9+.-]*:\/\//i.test(positionals[1]!)) {
    if (v.output !== undefined)
      throw new InvalidArgumentError(
        'output',
        `give the output once: ${quote(positionals[0])} or -O ${quote(v.output)}`,
      );
    pulledTo = positionals.shift();
  }
  const url = v.url ?? positionals[0] ?? '';
  if (!help && !version) {
    if (!url) throw new InvalidArgumentError('url', 'please specify a URL with -u or as the first argument');
    if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]+/i.test(url))
      throw new InvalidArgumentError('url', `url ${echoReference(url)} invalid argument${schemeHint(url)}`);
  }
  if (positionals.length > (v.url ? 0 : 1))
    throw new InvalidArgumentError('arguments', `unexpected argument ${quote(echoReference(positionals.at(-1)!))}`);
  refuseEmptyPaths(v, PATH_FLAGS);
  const outputFlag = v.output ?? pulledTo;
  if (v.username !== undefined && !v['password-stdin'])
    throw new InvalidArgumentError(
      'username',
      '--username needs --password-stdin (passwords are never taken from argv)',
    );
  if (v.username !== undefined && v.username === '') throw new InvalidArgumentError('username', 'is empty');
  if (v['all-layers']) {
    const clash = (['layer-index', 'layer-media-type', 'digest'] as const).find((k) => v[k] !== undefined);
    if (clash)
      throw new InvalidArgumentError(
        'all-layers',
        `--all-layers pulls every layer; it cannot be combined with --${clash}`,
      );
  }
  if (v.endpoint !== undefined && v['proxy-transport'] !== undefined)
    throw new InvalidArgumentError('endpoint', 'give --endpoint (the daemon socket) or --proxy-transport, not both');
  const headers: Record<string, string> = {};
  for (const h of v.header ?? []) {
    const [k, val] = parseHeader(h);
    headers[k] = val;
  }
  // `-O dir/` names a directory (the file takes the layer's title): keep the separator path.resolve drops.
  // --all-layers: -O names a directory (as oras pull's -o), the current one by default.
  const output = v['all-layers']
    ? path.resolve(cwd, outputFlag ?? '.')
    : outputFlag
      ? path.resolve(cwd, outputFlag) +
        (/[\\/]$/.test(outputFlag) && path.resolve(cwd, outputFlag) !== path.sep ? path.sep : '')
      : url
        ? defaultOutput(url, cwd)
        : '';
  const rateLimit = v.ratelimit !== undefined ? parseSize(v.ratelimit, 'ratelimit') : undefined;
  return {
    url,
    output,
    timeout: v.timeout !== undefined ? durationFlag(v.timeout, 'timeout') || undefined : undefined,
    digest: v.digest,
    // dfget: --digest clears --tag.
    tag: v.digest ? undefined : v.tag,
    filter: v.filter,
    headers,
    console: v.console ?? false,
    showProgress: (v['show-progress'] ?? false) && !(v.console ?? false),
    noProgress: v['no-progress'] ?? false,
    config: v.config,
    workHome: v.workhome,
    dataDir: v.datadir ?? v.cachedir,
    logDir: v.logdir,
    // 0 is kept: it lifts a config file's limit (flags win over the file).
    rateLimit,
    application: v.application,
    concurrency: v.concurrency !== undefined ? requireInt(v.concurrency, 'concurrency', 1, 64) : undefined,
    insecure: v.insecure,
    caFile: v['ca-file'],
    plainHttp: v['plain-http'],
    tagCacheTtl: v['tag-cache-ttl'] !== undefined ? durationFlag(v['tag-cache-ttl'], 'tag-cache-ttl') : undefined,
    platform: v.platform !== undefined ? parsePlatform(v.platform, 'platform') : undefined,
    registryConfig: v['registry-config']?.map((f) => path.resolve(cwd, f)),
    username: v.username,
    passwordStdin: v['password-stdin'] ?? false,
    allLayers: v['all-layers'] ?? false,
    endpoint: v.endpoint !== undefined ? path.resolve(cwd, v.endpoint) : undefined,
    proxyTransport: v['proxy-transport'],
    disableBackToSource: v['disable-back-to-source'] ?? false,
    layerIndex: v['layer-index'] !== undefined ? requireInt(v['layer-index'], 'layer-index', -1000, 1000) : undefined,
    layerMediaType: v['layer-media-type'],
    json: v.json ?? false,
    help,
    version,
  };
}
