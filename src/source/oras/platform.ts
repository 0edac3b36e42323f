/**
 * OCI platforms: the running one in OCI names, and platforms as people write them,
 * `os/arch[/variant]` (docker, oras and Apptainer spell them so).
 *
 * @module
 */
import { InvalidArgumentError } from '../../core/errors.js';
import { quote } from '../../core/describe.js';

/** An OCI platform, as in image indexes. */
export interface Platform {
  /** `linux`, `darwin`, `windows`, … */
  readonly os: string;
  /** `amd64`, `arm64`, `arm`, … */
  readonly architecture: string;
  /** `v7`, `v8`, … Only compared when set here. */
  readonly variant?: string | undefined;
}

/** OCI architecture name of a Node `process.arch`. */
export function ociArchitecture(arch: string = process.arch): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    ia32: '386',
    arm64: 'arm64',
    arm: 'arm',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
    loong64: 'loong64',
    mips: 'mips',
    mipsel: 'mipsle',
  };
  return map[arch] ?? arch;
}

/** OCI os name of a Node `process.platform`. */
export function ociOs(platform: string = process.platform): string {
  return platform === 'win32' ? 'windows' : platform === 'sunos' ? 'solaris' : platform;
}

/** The running platform in OCI terms. */
export function currentPlatform(): Platform {
  return { os: ociOs(), architecture: ociArchitecture() };
}

/**
 * Parses `linux/amd64` or `linux/arm64/v8` (case-insensitive).
 *
 * @throws InvalidArgumentError naming `field`.
 */
export function parsePlatform(value: string, field: string): Platform {
  const m = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/([a-z0-9]+))?$/i.exec(String(value).trim());
  if (!m)
    throw new InvalidArgumentError(
      field,
      `${quote(value)} is not os/arch[/variant] (e.g. linux/amd64, linux/arm64/v8)`,
    );
  return {
    os: m[1]!.toLowerCase(),
    architecture: m[2]!.toLowerCase(),
    ...(m[3] ? { variant: m[3].toLowerCase() } : {}),
  };
}
