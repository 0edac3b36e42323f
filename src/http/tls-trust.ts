/**
 * Which certificate authorities a TLS registry is checked against, and what a TLS failure tells the
 * user to do about it.
 *
 * Go tools (oras, Apptainer, skopeo) trust the system's CA bundle; Node trusts only the roots it
 * ships. A registry signed by a company CA that the administrator installed with
 * `update-ca-certificates` therefore worked with oras and failed with orasfly. We trust, in
 * addition to Node's roots: the system bundle (found the way Go's `crypto/x509` finds it, and
 * honouring the same `SSL_CERT_FILE` / `SSL_CERT_DIR`), `NODE_EXTRA_CA_CERTS` and `caFile`.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { SecureContext } from 'node:tls';

/** Where distributions keep their CA bundle: Go's `crypto/x509` list for Linux, in its order. */
export const SYSTEM_CA_FILES: readonly string[] = Object.freeze([
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Gentoo, Arch
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL 6
  '/etc/ssl/ca-bundle.pem', // openSUSE
  '/etc/pki/tls/cacert.pem', // OpenELEC
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem', // CentOS, RHEL 7
  '/etc/ssl/cert.pem', // Alpine
]);

/** Directories of single certificates, read when no bundle file exists (Go's list for Linux). */
export const SYSTEM_CA_DIRS: readonly string[] = Object.freeze(['/etc/ssl/certs', '/etc/pki/tls/certs']);

const PEM_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The system's CA certificates and the files they came from. */
export interface SystemCaCertificates {
  /** PEM certificates, one per entry. */
  readonly certificates: readonly string[];
  /** The files or directories read (for debug logs and docs). */
  readonly sources: readonly string[];
}

/**
 * Reads the system's CA certificates as Go does: `SSL_CERT_FILE` (else the first of
 * {@link SYSTEM_CA_FILES} that exists), and the directories of `SSL_CERT_DIR` (colon-separated).
 * Without `SSL_CERT_DIR`, {@link SYSTEM_CA_DIRS} are read only when no bundle file was found: on
 * every distribution listed they hold the same certificates as the bundle, and reading some 150
 * small files costs more than the bundle itself. Unreadable files are skipped; never throws.
 */
export function systemCaCertificates(env: NodeJS.ProcessEnv = process.env): SystemCaCertificates {
  const certificates: string[] = [];
  const sources: string[] = [];
  const add = (text: string, source: string): void => {
    const found = text.match(PEM_RE);
    if (!found) return;
    certificates.push(...found);
    sources.push(source);
  };
  const files = env['SSL_CERT_FILE'] ? [env['SSL_CERT_FILE']] : SYSTEM_CA_FILES;
  let bundle = false;
  for (const file of files) {
    const text = readIfFile(file);
    if (text === undefined) continue;
    add(text, file);
    bundle = true;
    break;
  }
  const dirs = env['SSL_CERT_DIR'] ? env['SSL_CERT_DIR'].split(':').filter(Boolean) : bundle ? [] : SYSTEM_CA_DIRS;
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      const text = readIfFile(path.join(dir, name));
      if (text !== undefined) add(text, path.join(dir, name));
    }
  }
  return { certificates, sources };
}

function readIfFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
}

/** The PEM certificates of `NODE_EXTRA_CA_CERTS`: Node drops them once `ca` is given, so we add them back. */
export function nodeExtraCaCertificates(env: NodeJS.ProcessEnv = process.env): string[] {
  const file = env['NODE_EXTRA_CA_CERTS'];
  if (!file) return [];
  return readIfFile(file)?.match(PEM_RE) ?? [];
}

/**
 * TLS options that trust what Node's default store would: nothing to add (`{}`) when Node loaded
 * `NODE_EXTRA_CA_CERTS` at start-up or the variable names no certificate; otherwise a context of
 * Node's roots (and the system's bundle when Node's store is OpenSSL's or the system's, see
 * {@link nodeStoreIsSystem}) and the variable's certificates, which the `orasfly` executable kept
 * Node from loading (`OrasClientOptions.nodeExtraCaLoaded`). Built when called: 20-40 ms, only then.
 */
export function nodeDefaultTrust(
  nodeExtraCaLoaded: boolean,
  env: NodeJS.ProcessEnv = process.env,
): { secureContext?: SecureContext } {
  const extra = nodeExtraCaLoaded ? [] : nodeExtraCaCertificates(env);
  if (extra.length === 0) return {};
  const tls = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
  const system = nodeStoreIsSystem(env) ? systemCaCertificates(env).certificates : [];
  return { secureContext: tls.createSecureContext({ ca: [...tls.rootCertificates, ...system, ...extra] }) };
}

/**
 * Whether Node's default store is OpenSSL's or the system's rather than its bundled roots:
 * `--use-openssl-ca` or `--use-system-ca` (on the command line or in `NODE_OPTIONS`, the last of
 * them and `--use-bundled-ca` deciding), `NODE_USE_SYSTEM_CA=1`, or a Node built to use OpenSSL's store.
 */
export function nodeStoreIsSystem(
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
  built: unknown = (process.config.variables as Record<string, unknown>)['openssl_use_def_ca_store'],
): boolean {
  const flags = [...(env['NODE_OPTIONS'] ?? '').split(/\s+/), ...execArgv].filter((a) =>
    /^--use-(openssl|system|bundled)-ca$/.test(a),
  );
  const last = flags.at(-1);
  if (last !== undefined) return last !== '--use-bundled-ca';
  return env['NODE_USE_SYSTEM_CA'] === '1' || built === true || built === 'true' || built === 1;
}

/** Codes of "the chain does not end at a CA we trust". */
const UNTRUSTED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** Whether a TLS failure says only that the chain reached no trusted root (a bigger store may help). */
export function untrustedChain(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNTRUSTED.has(code);
}

/**
 * What to do about a TLS failure with `code`, in the words of both the CLI and the library, so
 * that nobody reaches for `--insecure` first when `--ca-file` is the fix.
 */
export function tlsFailureHint(code: string): string {
  const skip = '--insecure (oras.insecureSkipVerify) skips verification, for testing only';
  if (UNTRUSTED.has(code))
    return (
      `the certificate is not signed by a CA this machine trusts: pass the CA with --ca-file ` +
      `FILE (oras.caFile), or add it to the system bundle (update-ca-certificates; SSL_CERT_FILE, SSL_CERT_DIR) or NODE_EXTRA_CA_CERTS; ${skip}`
    );
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return `the certificate is outside its validity period: check the registry's certificate and this machine's clock; ${skip}`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH')
    return `the certificate does not name this host: use a host name it names; ${skip}`;
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST/i.test(code))
    return 'the server does not speak TLS here: if it is a plain-HTTP registry, pass --plain-http (oras.plainHttp)';
  return skip;
}
