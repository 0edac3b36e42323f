/**
 * `--username` with `--password-stdin`: the password is read from stdin (never argv, where every
 * user of the machine can read it) and offered to the reference's registry only.
 *
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { CredentialsOption } from '../source/oras/options.js';

/** More than any password or token; a larger stdin is a mistake (a file piped by accident). */
const MAX_SECRET_BYTES = 64 * 1024;

/**
 * Reads the secret from `stdin` (one trailing newline dropped, as `docker login --password-stdin`)
 * and returns a credential for `registry` alone: another registry or a redirect target never receives
 * it (the token realm that registry names does, over HTTPS, as bearer auth requires).
 *
 * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) for an empty or oversized stdin, or a terminal.
 */
export async function credentialFromStdin(
  stdin: AsyncIterable<Buffer | string>,
  registry: string,
  username: string | undefined,
  signal?: AbortSignal,
): Promise<CredentialsOption> {
  // A terminal would wait, silently, for an end of input, and echo the password as it is typed.
  if ((stdin as { isTTY?: boolean }).isTTY === true)
    throw new InvalidArgumentError(
      'password-stdin',
      'stdin is a terminal; pipe the password in, e.g. printf %s "$PASSWORD" | orasfly … --password-stdin',
    );
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    signal?.throwIfAborted();
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > MAX_SECRET_BYTES)
      throw new InvalidArgumentError(
        'password-stdin',
        `stdin holds more than ${MAX_SECRET_BYTES} bytes; pipe only the password`,
      );
    chunks.push(b);
  }
  const secret = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (secret === '')
    throw new InvalidArgumentError(
      'password-stdin',
      'stdin is empty; pipe the password, e.g. printf %s "$PASSWORD" | orasfly … --password-stdin',
    );
  const credential = username !== undefined ? { username, password: secret } : { identityToken: secret };
  const wanted = registry.toLowerCase();
  return (host) => (host.toLowerCase() === wanted ? credential : undefined);
}
