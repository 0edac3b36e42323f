/**
 * Certificates for the harness: a generated CA and a server certificate for 127.0.0.1 and
 * localhost, made with the system's `openssl`.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';

const execFileAsync = promisify(execFile);

/** Runs `openssl args…` in `cwd`; its stderr goes into the error. */
export async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0] ?? ''} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

export async function makeTlsCerts(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const caFile = path.join(dir, 'ca.pem');
  const caKey = path.join(dir, 'ca-key.pem');
  const certFile = path.join(dir, 'server.pem');
  const keyFile = path.join(dir, 'server-key.pem');
  // EC keys: generated instantly, and Go's TLS stack and Node both speak ECDSA.
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      caKey,
      '-out',
      caFile,
      '-days',
      '2',
      '-subj',
      '/CN=orasfly test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  // OpenSSL 3's `req -x509 -CA` issues a cert signed by the CA in one step.
  await openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-CA',
      caFile,
      '-CAkey',
      caKey,
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-addext',
      'basicConstraints=critical,CA:FALSE',
      '-addext',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      '-addext',
      'extendedKeyUsage=serverAuth',
    ],
    dir,
  );
  return { caFile, certFile, keyFile };
}

/**
 * Sets `NODE_EXTRA_CA_CERTS` to `file` until the test ends. This process's Node never loaded it (it
 * reads the variable at start-up only): the case of the `orasfly` executable, which keeps it from
 * Node's start-up.
 */
export function useExtraCaFileForTest(t: { after(fn: () => void): void }, file: string): void {
  const saved = process.env['NODE_EXTRA_CA_CERTS'];
  process.env['NODE_EXTRA_CA_CERTS'] = file;
  t.after(() => {
    if (saved === undefined) delete process.env['NODE_EXTRA_CA_CERTS'];
    else process.env['NODE_EXTRA_CA_CERTS'] = saved;
  });
}

/** An HTTPS server on 127.0.0.1 with `certs`, closed when the test ends; returns its origin. */
export async function serveHttpsForTest(
  t: { after(fn: () => void): void },
  certs: { certFile: string; keyFile: string },
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ origin: string; server: Server }> {
  const server = createServer({ cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) }, handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return { origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
