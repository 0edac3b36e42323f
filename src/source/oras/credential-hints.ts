/**
 * What an authentication failure tells the user: which credential was tried and where it came from,
 * or that none was found and where orasfly looked, and how to log in. Never a secret: sources are
 * file paths and helper names.
 *
 * @module
 */
/** The ways to log in that orasfly reads, for `registry` (`host[:port]`), after "log in with". */
export function loginHint(registry: string): string {
  return (
    `\`docker login ${registry}\`, \`podman login ${registry}\` or ` +
    `\`apptainer registry login --username USER oras://${registry}\`, or pass ` +
    `\`--username USER --password-stdin\``
  );
}

/**
 * How a credential file is named in messages: what wrote it matters more than its path, which
 * follows. `given`: a file of `registryConfig` (`--registry-config`).
 */
export function describeCredentialFile(
  file: { readonly path: string; readonly format: 'containers' | 'docker' },
  given: boolean,
): string {
  if (given) return `the registry config ${file.path}`;
  if (file.format === 'containers') return `the containers auth file ${file.path} (podman/skopeo login)`;
  if (/[\\/]\.(apptainer|singularity)[\\/]/.test(file.path))
    return `the Apptainer login file ${file.path} (apptainer registry login)`;
  return `the docker config ${file.path} (docker login)`;
}

/** Where a lookup that found nothing looked, shortly (the `DEBUG` log lists every file). */
export function searchedPlaces(registryConfig: readonly string[] | undefined, explicit: boolean): string {
  const files = registryConfig
    ? registryConfig.length
      ? `the registry config ${registryConfig.join(', ')}`
      : 'no file (registryConfig is empty)'
    : 'the containers auth files, the docker config and the Apptainer login file';
  return `${explicit ? 'the credentials option, ' : ''}${files}; DEBUG=orasfly:auth lists the files`;
}

/** The hint of a 401 when no credential was found for `registry`. */
export function missingCredentialHint(registry: string, searched: string, problem?: string): string {
  return (
    `no credential for ${registry} was found (looked in ${searched})` +
    `${problem ? `; ${problem}` : ''}; log in with ${loginHint(registry)}`
  );
}

/** The hint of a 401 to a request that carried the credential from `source`. */
export function rejectedCredentialHint(registry: string, source: string): string {
  return `the credential for ${registry} from ${source} was rejected; log in again with ${loginHint(registry)}`;
}
